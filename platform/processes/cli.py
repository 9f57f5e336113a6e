"""The `specialistly` command: serve, worker, dev, admin, export-schema, plugins,
preview-email."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from specialistly.settings import Settings

DEFAULT_SCHEMA_PATH = Path("schema/schema.graphql")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="specialistly", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    worker = commands.add_parser("worker", help="run background job workers")
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument("--metrics-host", default="127.0.0.1")
    worker.add_argument("--metrics-port", type=int, help="serve the worker's /metrics on this port")

    dev = commands.add_parser("dev", help="API and worker in one process, with demo data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--mail-port", type=int, default=1025, help="the catch-all mail server's")

    preview = commands.add_parser("preview-email", help="render an email with sample data")
    preview.add_argument("name", nargs="?", help="the template; without it, list them all")
    preview.add_argument("--html", action="store_true", help="print the HTML, not the text")

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("path", nargs="?", type=Path, default=DEFAULT_SCHEMA_PATH)

    commands.add_parser(
        "plugins", help="list loaded plugins: versions, hooks, providers and routes"
    )

    admin = commands.add_parser("admin", help="grant or revoke the admin role of an account")
    admin.add_argument("action", choices=("grant", "revoke"))
    admin.add_argument("email")

    args = parser.parse_args(argv)
    settings = Settings()
    host = args.metrics_host if args.command == "worker" else getattr(args, "host", None)
    if host is not None and settings.development and not _loopback(host):
        print(
            f"refusing to serve on {host} in development mode: bind to 127.0.0.1, or set"
            " SPECIALISTLY_ENVIRONMENT=production and SPECIALISTLY_JWT_SECRET",
            file=sys.stderr,
        )
        return 2
    if args.command in ("serve", "worker") and settings.jwt_secret is None:
        print(
            "SPECIALISTLY_JWT_SECRET is not set: give it a random value of at least 32"
            " characters (`specialistly dev` makes one for local use)",
            file=sys.stderr,
        )
        return 2
    if args.command in ("serve", "worker", "dev"):
        # Before anything imports prometheus_client: see infra/metrics/directory.py.
        from specialistly.infra.metrics import directory

        directory.prepare()
    if args.command == "serve":
        return run_api(args.host, args.port, args.workers)
    if args.command == "worker":
        from specialistly.processes.worker import run_worker

        metrics_at = (args.metrics_host, args.metrics_port) if args.metrics_port else None
        return run_worker(settings, threads=args.threads, metrics_at=metrics_at)
    if args.command == "dev":
        from specialistly.processes.dev import run_dev

        return run_dev(settings, args.host, args.port, args.mail_port)
    if args.command == "preview-email":
        return _preview_email(settings, args.name, html=args.html)
    if args.command == "admin":
        return asyncio.run(_admin(settings, args.email, grant=args.action == "grant"))
    if args.command == "export-schema":
        return _export_schema(settings, args.path)
    return _plugins(settings)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid, as in some containers
        return f"uid:{os.getuid()}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _admin(settings: Settings, email: str, *, grant: bool) -> int:
    """Grant or revoke the admin role; each change is a structured line in the audit log."""
    from specialistly.core.accounts import set_admin
    from specialistly.core.errors import DomainError
    from specialistly.infra import db
    from specialistly.infra.logs import configure_logging
    from specialistly.plugin_system.manager import create_plugin_manager

    configure_logging()
    mongo = await db.connect(settings, create_plugin_manager(settings))
    try:
        user = await set_admin(email, admin=grant)
    except DomainError as exc:
        print(f"{exc}: {email}", file=sys.stderr)
        return 1
    finally:
        await mongo.close()
    logging.getLogger("specialistly.audit").info(
        "admin role granted" if grant else "admin role revoked",
        extra={
            "audit": "admin.grant" if grant else "admin.revoke",
            "user_id": str(user.id),
            "email": user.email,
            "roles": [r.value for r in user.roles],
            "by": _operator(),
        },
    )
    return 0


def run_api(host: str, port: int, workers: int = 1) -> int:
    """Run the API with uvicorn until stopped."""
    import uvicorn

    from specialistly.infra.logs import configure_logging

    configure_logging()
    settings = Settings()
    trusted = settings.forwarded_allow_ips
    uvicorn.run(
        "specialistly.processes.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        # Without proxies of our own, X-Forwarded-For is whatever the client wants it to be:
        # believed only from the configured ones (uvicorn would trust loopback by default).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
        ws_max_size=settings.request_body_max_bytes,
    )
    return 0


def schema_sdl(settings: Settings) -> str:
    from specialistly.api.schema import build_schema
    from specialistly.plugin_system.manager import create_plugin_manager

    return build_schema(create_plugin_manager(settings), settings).as_str() + "\n"


def _export_schema(settings: Settings, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_sdl(settings))
    print(f"wrote {path}")
    return 0


def _preview_email(settings: Settings, name: str | None, *, html: bool) -> int:
    """Print one email rendered with sample data (subject, then text or HTML), or the list."""
    import jinja2

    from specialistly.features.email_preview import sample_values
    from specialistly.features.email_templates import EmailTemplates

    templates = EmailTemplates(settings)
    if name is None:
        print("\n".join(templates.names()))
        return 0
    try:
        rendered = templates.render(name, sample_values(name))
    except jinja2.TemplateNotFound as exc:
        print(f"no email template {exc.name!r}", file=sys.stderr)
        return 1
    print(f"Subject: {rendered.subject}\n")
    print(rendered.html if html else rendered.text)
    return 0


def _plugins(settings: Settings) -> int:
    """Each plugin: name, version, where it came from, its hooks, providers and routes."""
    from specialistly.plugin_system.manager import create_plugin_manager

    pm = create_plugin_manager(settings)
    providers = pm.providers()
    offered: dict[str, list[str]] = {}
    for kind in ("video", "payment", "email"):
        for plugin_name, items in pm.collect(f"{kind}_providers"):
            offered.setdefault(plugin_name, []).extend(f"{kind}:{p.name}" for p in items)
    # Full addresses, as a provider's dashboard wants them for webhooks and OAuth callbacks.
    base = settings.public_url.rstrip("/")
    served: dict[str, list[str]] = {}
    for plugin_name, routes in pm.collect("http_routes"):
        paths = [getattr(route, "path", "") for route in routes]
        served.setdefault(plugin_name, []).extend(base + path for path in paths if path)
    for info in pm.infos.values():
        print(f"{info.name:<28} {info.version or '-':<10} {info.source:<12} {info.module}")
        print(f"    hooks: {', '.join(pm.hooks_of(info.name))}")
        for label, listed in (("providers", offered), ("routes", served)):
            if info.name in listed:
                print(f"    {label}: {', '.join(listed[info.name])}")
    print(
        f"providers: video={providers.video.names()} payment={providers.payment.names()}"
        f" email={providers.email.names()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
