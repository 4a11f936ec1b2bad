"""Knowledge base: topic files, loader/validator, renderer and question matcher.

Pure Python: no aiogram, database or network imports, so the bot, the console and the CLI can
all use it.
"""

from knowledge.catalogue import Catalogue, as_lang
from knowledge.loader import TopicError, load_catalogue
from knowledge.matcher import Matcher, MatchResult
from knowledge.models import Action, Document, Kind, Lang, Notice, Phrases, Text, Topic, Utility
from knowledge.render import checklist_items, render

__all__ = [
    "Action",
    "Catalogue",
    "Document",
    "Kind",
    "Lang",
    "MatchResult",
    "Matcher",
    "Notice",
    "Phrases",
    "Text",
    "Topic",
    "TopicError",
    "Utility",
    "as_lang",
    "checklist_items",
    "load_catalogue",
    "render",
]
