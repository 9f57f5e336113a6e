"""The `specialistly` command: serve, worker, dev, export-schema, plugins."""

from __future__ import annotations

import argparse
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

    dev = commands.add_parser("dev", help="API and worker in one process, with demo data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("path", nargs="?", type=Path, default=DEFAULT_SCHEMA_PATH)

    commands.add_parser(
        "plugins", help="list loaded plugins: versions, hooks, providers and routes"
    )

    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        return run_api(args.host, args.port, args.workers)
    if args.command == "worker":
        from specialistly.processes.worker import run_worker

        return run_worker(settings, threads=args.threads)
    if args.command == "dev":
        from specialistly.processes.dev import run_dev

        return run_dev(settings, args.host, args.port)
    if args.command == "export-schema":
        return _export_schema(settings, args.path)
    return _plugins(settings)


def run_api(host: str, port: int, workers: int = 1) -> int:
    """Run the API with uvicorn until stopped."""
    import uvicorn

    from specialistly.infra.logs import configure_logging

    configure_logging()
    settings = Settings()
    trusted = settings.forwarded_allow_ips
    uvicorn.run(
        "specialistly.processes.app:create_app",
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
