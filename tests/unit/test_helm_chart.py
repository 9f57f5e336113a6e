"""The Helm chart renders a complete, safe deployment (checked with the real `helm`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

CHART = Path(__file__).resolve().parent.parent.parent / "helm" / "specialistly"
SECRETS = [
    "--set",
    "secrets.jwtSecret=" + "s" * 40,
    "--set",
    "secrets.mongodbUrl=mongodb://db.example:27017/",
    "--set",
    "secrets.redisUrl=redis://cache.example:6379/0",
]


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    # scripts/setup links helm into the virtualenv's bin directory.
    binary = shutil.which("helm", path=str(Path(sys.executable).parent)) or shutil.which("helm")
    assert binary, "helm is installed by scripts/setup"
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def render(*values: str) -> list[dict[str, Any]]:
    done = helm("template", "demo", str(CHART), *values)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_the_chart_lints() -> None:
    done = helm("lint", "--strict", str(CHART), *SECRETS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_api_and_worker_are_deployed_with_probes_limits_and_autoscaling() -> None:
    docs = render(*SECRETS)
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"demo-specialistly-api", "demo-specialistly-worker"}
    api = deployments["demo-specialistly-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["args"][0] == "serve"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    worker = deployments["demo-specialistly-worker"]["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"][:1] == ["worker"]
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert container["resources"]["limits"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        secret_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
        assert secret_keys == {"jwtSecret", "mongodbUrl", "redisUrl", "metricsToken"}
        assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    autoscalers = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"demo-specialistly-api", "demo-specialistly-worker"}
    assert by_kind(docs, "Service")["demo-specialistly-api"]["spec"]["ports"][0]["port"] == 80
    config = by_kind(docs, "ConfigMap")["demo-specialistly-config"]["data"]
    assert config["SPECIALISTLY_ENVIRONMENT"] == "production"
    assert config["SPECIALISTLY_FORWARDED_ALLOW_IPS"] == "[]"


def test_trusted_proxies_are_passed_as_a_json_list() -> None:
    docs = render(*SECRETS, "--set", "config.forwardedAllowIps={10.0.0.0/8,192.168.1.7}")
    config = by_kind(docs, "ConfigMap")["demo-specialistly-config"]["data"]
    assert config["SPECIALISTLY_FORWARDED_ALLOW_IPS"] == '["10.0.0.0/8","192.168.1.7"]'


def test_secrets_are_required_unless_an_existing_secret_is_named() -> None:
    missing = helm("template", "demo", str(CHART))
    assert missing.returncode != 0
    assert "secrets.jwtSecret is required" in missing.stderr
    short = helm("template", "demo", str(CHART), *SECRETS, "--set", "secrets.jwtSecret=short")
    assert "at least 32 characters" in short.stderr

    docs = render("--set", "secrets.existingSecret=prod-specialistly")
    assert by_kind(docs, "Secret") == {}
    container = by_kind(docs, "Deployment")["demo-specialistly-api"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]} == {
        "prod-specialistly"
    }


@pytest.mark.parametrize("component", ["api", "worker"])
def test_fixed_replicas_when_autoscaling_is_off(component: str) -> None:
    docs = render(*SECRETS, "--set", f"{component}.autoscaling.enabled=false")
    deployment = by_kind(docs, "Deployment")[f"demo-specialistly-{component}"]
    assert deployment["spec"]["replicas"] == 2
    assert f"demo-specialistly-{component}" not in by_kind(docs, "HorizontalPodAutoscaler")


def pod_of(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    pod: dict[str, Any] = by_kind(docs, "Deployment")[f"demo-specialistly-{component}"]["spec"][
        "template"
    ]
    return pod


def test_pods_carry_scrape_annotations_and_the_worker_serves_its_metrics() -> None:
    docs = render(*SECRETS, "--set", "secrets.metricsToken=" + "m" * 24)
    api, worker = pod_of(docs, "api"), pod_of(docs, "worker")
    for pod, port in ((api, "8000"), (worker, "9191")):
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == port
        assert annotations["prometheus.io/path"] == "/metrics"
        token = next(
            e
            for e in pod["spec"]["containers"][0]["env"]
            if e["name"] == "SPECIALISTLY_METRICS_TOKEN"
        )
        assert token["valueFrom"]["secretKeyRef"] == {
            "name": "demo-specialistly-secrets",
            "key": "metricsToken",
            "optional": True,  # an existing Secret without it: no metrics in production
        }
    container = worker["spec"]["containers"][0]
    assert container["args"][-4:] == ["--metrics-host", "0.0.0.0", "--metrics-port", "9191"]  # noqa: S104
    assert container["ports"] == [{"name": "metrics", "containerPort": 9191}]
    secret = by_kind(docs, "Secret")["demo-specialistly-secrets"]["stringData"]
    assert secret["metricsToken"] == "m" * 24


def test_metrics_can_be_turned_off_and_a_short_token_is_refused() -> None:
    docs = render(*SECRETS, "--set", "metrics.enabled=false")
    for component in ("api", "worker"):
        pod = pod_of(docs, component)
        assert not any(k.startswith("prometheus.io/") for k in pod["metadata"]["annotations"])
        container = pod["spec"]["containers"][0]
        assert "--metrics-port" not in container["args"]
        assert all(e["name"] != "SPECIALISTLY_METRICS_TOKEN" for e in container["env"])
    assert (
        "metricsToken"
        not in by_kind(render(*SECRETS), "Secret")["demo-specialistly-secrets"]["stringData"]
    )
    short = helm("template", "demo", str(CHART), *SECRETS, "--set", "secrets.metricsToken=short")
    assert short.returncode != 0
    assert "secrets.metricsToken must be at least 16 characters" in short.stderr


def test_plugin_secrets_are_kept_in_the_secret_not_the_config() -> None:
    docs = render(
        *SECRETS, "--set", "secrets.pluginSecrets.SPECIALISTLY_STRIPE_SECRET_KEY=sk_live_x"
    )
    (secret_doc,) = by_kind(docs, "Secret").values()
    secret = secret_doc["stringData"]
    assert secret["SPECIALISTLY_STRIPE_SECRET_KEY"] == "sk_live_x"
    config = by_kind(docs, "ConfigMap")["demo-specialistly-config"]["data"]
    assert "SPECIALISTLY_STRIPE_SECRET_KEY" not in config
    for deployment in by_kind(docs, "Deployment").values():
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in env}
        assert refs["SPECIALISTLY_STRIPE_SECRET_KEY"] == "SPECIALISTLY_STRIPE_SECRET_KEY"
    empty = helm(
        "template", "demo", str(CHART), *SECRETS, "--set", "secrets.pluginSecrets.SPECIALISTLY_X="
    )
    assert "secrets.pluginSecrets.SPECIALISTLY_X needs a value" in empty.stderr
