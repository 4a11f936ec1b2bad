"""The ``onestop`` command."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from core import billing, corrections
from core import staff as staff_service
from core.checks import PROBLEM, WARNING
from core.checks import check_config as check
from core.context import AppContext
from core.demo import load_demo
from core.demo_past import PastResult, load_past
from core.i18n import compile_catalogs as compile_
from core.i18n import missing_translations
from core.keys import SecretKeyMissing, install_secret_key, reveal
from core.settings import ROOT, Settings
from db.enums import StaffRole
from db.migrate import upgrade
from db.models import ApiToken
from knowledge.cli import ask as ask_
from knowledge.loader import load_catalogue
from onestop.runner import run

T = TypeVar("T")

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
    settings = _settings(host=host, port=port)
    install_secret_key(settings)  # before the migration (it re-keys bill codes) and before any work (F4)
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
    settings = _settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


@app.command("check-config")
def check_config() -> None:
    """Check a production configuration (issue 13): token, secret key, database, Redis, webhook and public URL."""
    findings = asyncio.run(check(_settings()))
    marks = {PROBLEM: "✗", WARNING: "!"}
    for f in findings:
        typer.echo(f"{marks.get(f.level, '✓')} {f.message}")
    problems = sum(f.level == PROBLEM for f in findings)
    if problems:
        typer.echo(f"{problems} problem(s): not ready for production.", err=True)
        raise typer.Exit(1)
    typer.echo("The configuration looks ready for production.")


@app.command("compile-catalogs")
def compile_catalogs() -> None:
    """Merge the per-feature .po files and compile messages.mo for every language."""
    counts = compile_(_settings().locales_dir)
    typer.echo(", ".join(f"{k}: {v} messages" for k, v in counts.items()))


@app.command("i18n-missing")
def i18n_missing() -> None:
    """Print msgids used in bot/ and core/ that lack a translation, as .po entries to fill in."""
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

    ctx = AppContext.create(_settings())

    async def go() -> None:
        async with ctx.sessionmaker() as session:
            result = await load_demo(session, now=ctx.clock.now())
            past = await load_past(session, ctx=ctx) if history else PastResult(False)
        await ctx.close()
        if past.created:
            typer.echo("Demo history added (three months): " + ", ".join(f"{k} {v}" for k, v in past.counts.items()))
        if not result.created:
            typer.echo("demo data already present")
            if past.staff_passwords:
                reveal(["New demo staff logins (random passwords, shown once):"]
                       + [f"  {user:18} {pw}" for user, pw in past.staff_passwords.items()], ctx.settings)
            return
        typer.echo("Demo data loaded.")
        # F9: passwords go to the terminal only, never to a log; `make run` at a terminal still shows them.
        reveal(["Staff logins (random passwords, shown once):"]
               + [f"  {user:18} {pw}" for user, pw in {**result.staff_passwords, **past.staff_passwords}.items()],
               ctx.settings)
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
    ctx = AppContext.create(_settings())
    password = staff_service.new_password()

    async def go() -> None:
        async with ctx.sessionmaker() as session:
            await staff_service.create_staff(session, username=username, display_name=name or username,
                                             role=StaffRole(role), password=password, now=ctx.clock.now())
            await session.commit()

    _staff_call(ctx, go())
    typer.echo(f"created {username} ({role})")
    reveal([f"password of {username}: {password}"], ctx.settings)


@app.command("create-token")
def create_token(name: str, role: str = "operator") -> None:
    """Create a bearer token for an integration, with its own service identity (printed once)."""
    ctx = AppContext.create(_settings())

    async def go() -> str:
        async with ctx.sessionmaker() as session:
            token = await staff_service.create_api_token(session, name=name, role=StaffRole(role), now=ctx.clock.now())
            await session.commit()
            return token

    token = _staff_call(ctx, go())
    reveal([f"token {name} ({role}): {token}"], ctx.settings)


def _staff_call(ctx: AppContext, coro: Coroutine[Any, Any, T]) -> T:
    """Run one staff-administration call; a refusal is one line on stderr and exit status 1."""
    async def go() -> T:
        try:
            return await coro
        finally:
            await ctx.close()

    try:
        return asyncio.run(go())
    except staff_service.StaffError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None


@app.command("deactivate-staff")
def deactivate_staff(username: str) -> None:
    """Deactivate a staff member: their sessions end at once (the next request is refused)."""
    ctx = AppContext.create(_settings())

    async def go() -> None:
        async with ctx.sessionmaker() as session:
            await staff_service.deactivate_staff(session, username=username, now=ctx.clock.now())

    _staff_call(ctx, go())
    typer.echo(f"{username} is deactivated; their sessions have ended")


@app.command("reset-password")
def reset_password(username: str) -> None:
    """Give a staff member a new random password and end all their sessions."""
    ctx = AppContext.create(_settings())

    async def go() -> str:
        async with ctx.sessionmaker() as session:
            _, password = await staff_service.reset_password(session, username=username, now=ctx.clock.now())
            return password

    password = _staff_call(ctx, go())
    typer.echo(f"{username}'s sessions have ended")
    reveal([f"new password of {username}: {password}"], ctx.settings)


@app.command("revoke-token")
def revoke_token(name: str) -> None:
    """Revoke an integration token: the next request with it is refused."""
    ctx = AppContext.create(_settings())

    async def go() -> int:
        async with ctx.sessionmaker() as session:
            return await staff_service.revoke_token(session, name=name, now=ctx.clock.now())

    count = _staff_call(ctx, go())
    typer.echo(f"revoked {count} token(s) named {name}")


@app.command("list-tokens")
def list_tokens() -> None:
    """Integration tokens with their role, state and last use."""
    ctx = AppContext.create(_settings())

    async def go() -> list[ApiToken]:
        async with ctx.sessionmaker() as session:
            return await staff_service.tokens(session)

    for t in _staff_call(ctx, go()):
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "never"
        typer.echo(f"{t.name:24} {t.role.value:10} {state:24} last used {used}")


@app.command("ask")
def ask(
    question: str,
    lang: Annotated[str, typer.Option(help="zh | en")] = "zh",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What the knowledge matcher makes of a question: outcome, topic slug, score, alternatives."""

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
    try:
        app()
    except SecretKeyMissing as e:  # F4: one line, no traceback
        typer.echo(f"onestop: {e}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

