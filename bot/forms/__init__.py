"""The form kit: the steps every request form asks the same way, declared by each form and registered on its
router (issue 16).

- ``buttons``: the one answer to a button that no longer does anything, and acknowledging a tap;
- ``base``: ``Turn`` (one update inside a form) and ``install`` (expiry of an abandoned form, ✖️ Cancel);
- ``phone``: the resident's number — share-contact button, typed digits, the number on file, or Skip;
- ``place``: where — one of the resident's addresses, a typed address, the shared location, the district;
- ``media``: a free-text description with an optional photo, then up to five photos;
- ``confirm``: the draft summary with Submit / Cancel, a double or late tap answered with the number given;
- ``safety``: the gas-leak advice, and the warning every free-text step gives when core.safety sees an emergency.
"""
