"""The ``onestop`` command."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from core.settings import Settings

app = typer.Typer(help="Onestop: utility self-service bot and back office.", no_args_is_help=True,
                  add_completion=False)


def _settings(**overrides: object) -> Settings:
    settings = Settings()
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    return settings


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # one line per update is noise
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _run(parts: set[str], host: str | None, port: int | None, migrate_first: bool = True) -> None:
    from core.runner import run
    from db.migrate import upgrade

    settings = _settings(host=host, port=port)
    _logging()
    if migrate_first:
        upgrade(settings.database_url)
    asyncio.run(run(settings, parts))


@app.command("run")
def run_all(host: str = typer.Option(None), port: int = typer.Option(None)) -> None:
    """Console/API, bot, outbox sender and scheduler in one process (sandbox mode without a token)."""
    _run({"api", "bot", "worker"}, host, port)


@app.command()
def bot() -> None:
    """Only the bot (long polling)."""
    _run({"bot"}, None, None)


@app.command()
def api(host: str = typer.Option(None), port: int = typer.Option(None)) -> None:
    """Only the console and JSON API."""
    _run({"api"}, host, port)


@app.command()
def worker() -> None:
    """Only the outbox sender and the scheduler."""
    _run({"worker"}, None, None)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    from db.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


@app.command("compile-catalogs")
def compile_catalogs() -> None:
    """Merge the per-feature .po files and compile messages.mo for every language."""
    from core.i18n import compile_catalogs as compile_

    counts = compile_(_settings().locales_dir)
    typer.echo(", ".join(f"{k}: {v} messages" for k, v in counts.items()))


@app.command("i18n-missing")
def i18n_missing() -> None:
    """Print msgids used in bot/ and core/ that lack a translation, as .po entries to fill in."""
    from core.i18n import missing_translations
    from core.settings import ROOT

    settings = _settings()
    for locale, ids in missing_translations(settings.locales_dir, ROOT / "bot", ROOT / "core").items():
        typer.echo(f"# {locale}: {len(ids)} missing")
        for msgid in ids:
            escaped = msgid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            typer.echo(f'msgid "{escaped}"\nmsgstr ""\n')


@app.command("demo-data")
def demo_data(
    history: Annotated[bool, typer.Option(help="also three months of made-up history (issue 15)")] = True,
) -> None:
    """Load the demo utility (idempotent); prints the demo staff passwords once."""
    from core.context import AppContext
    from core.demo import load_demo
    from core.demo_past import PastResult, load_past  # issue 15: three months of believable history

    async def go() -> None:
        ctx = AppContext.create(_settings())
        async with ctx.sessionmaker() as session:
            result = await load_demo(session, now=ctx.clock.now())
            past = await load_past(session, ctx=ctx) if history else PastResult(False)
        await ctx.close()
        if past.created:
            typer.echo("Demo history added (three months): " + ", ".join(f"{k} {v}" for k, v in past.counts.items()))
        if not result.created:
            typer.echo("demo data already present")
            for user, pw in past.staff_passwords.items():
                typer.echo(f"  {user:18} {pw}")
            return
        typer.echo("Demo data loaded. Staff logins (random passwords, shown once):")
        for user, pw in {**result.staff_passwords, **past.staff_passwords}.items():
            typer.echo(f"  {user:18} {pw}")
        typer.echo("Some demo accounts (number, utility, holder, bill code):")
        for row in result.sample_accounts:
            typer.echo("  " + "  ".join(row))

    asyncio.run(go())


@app.command("approval-role")
def approval_role(
    username: str,
    role: Annotated[str, typer.Argument(help="team_lead | dept_manager | finance | deputy_gm | none")],
) -> None:
    """R12: give a staff user a bill-correction approval role (kept beside the console role)."""
    from core import corrections
    from core.context import AppContext

    async def go() -> str | None:
        ctx = AppContext.create(_settings())
        try:
            async with ctx.sessionmaker() as session:
                await corrections.set_approval_role(session, username=username, role=role, now=ctx.clock.now())
        except (corrections.CorrectionError, ValueError) as e:
            return str(e)
        finally:
            await ctx.close()
        return None

    problem = asyncio.run(go())
    if problem:
        typer.echo(f"not changed: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{username}: approval role {role}")


@app.command("create-staff")
def create_staff(
    username: str,
    role: Annotated[str, typer.Option(help="agent | operator | supervisor | admin")] = "agent",
    name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a staff user with a random password (printed once)."""
    from core import staff
    from core.context import AppContext
    from core.enums import StaffRole

    async def go() -> None:
        ctx = AppContext.create(_settings())
        password = staff.new_password()
        async with ctx.sessionmaker() as session:
            await staff.create_staff(session, username=username, display_name=name or username,
                                     role=StaffRole(role), password=password, now=ctx.clock.now())
            await session.commit()
        await ctx.close()
        typer.echo(f"created {username} ({role}); password: {password}")

    asyncio.run(go())


@app.command("create-token")
def create_token(name: str, role: str = "operator") -> None:
    """Create a bearer token for an integration (e.g. the billing system); printed once."""
    from core import staff
    from core.context import AppContext
    from core.enums import StaffRole

    async def go() -> None:
        ctx = AppContext.create(_settings())
        async with ctx.sessionmaker() as session:
            token = await staff.create_api_token(session, name=name, role=StaffRole(role), now=ctx.clock.now())
            await session.commit()
        await ctx.close()
        typer.echo(token)

    asyncio.run(go())


@app.command("ask")
def ask(
    question: str,
    lang: Annotated[str, typer.Option(help="zh | en")] = "zh",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What the knowledge matcher makes of a question: outcome, topic slug, score, alternatives."""
    from knowledge.cli import ask as ask_
    from knowledge.loader import load_catalogue

    if lang not in ("zh", "en"):
        raise typer.BadParameter("use zh or en", param_hint="--lang")
    settings = _settings()
    catalogue = load_catalogue(settings.knowledge_dir / "topics", settings.knowledge_dir / "site.yaml")
    typer.echo(ask_(question, lang, as_json, catalogue=catalogue))


@app.command("import")
def import_billing(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="billing CSV file")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; change nothing.")] = False,
) -> None:
    """Import a billing CSV (accounts, readings, charges, payments): all rows or, if any is bad, none."""
    from core import billing
    from core.context import AppContext

    async def go() -> billing.ImportReport:
        ctx = AppContext.create(_settings())
        try:
            async with ctx.sessionmaker() as session:
                return await billing.import_csv(session, file.read_bytes(), now=ctx.clock.now(), dry_run=dry_run,
                                                actor="cli")
        finally:
            await ctx.close()

    report = asyncio.run(go())
    if not report.ok:
        for e in report.errors:
            typer.echo(f"{file.name}:{e.line}: {e.message}", err=True)
        typer.echo(f"{report.error_count} problem(s); nothing was imported.", err=True)
        raise typer.Exit(1)
    counts = ", ".join(f"{k} +{report.created.get(k, 0)}/~{report.updated.get(k, 0)}" for k in report.created)
    verb = "checked (nothing changed)" if dry_run else "imported"
    typer.echo(f"{report.rows} rows {verb}: {counts}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

