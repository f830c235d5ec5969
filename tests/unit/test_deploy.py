"""The deployment files parse, and every ASNFLOW_* variable they set is one the settings read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from asnflow.runtime.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
READ = {f"ASNFLOW_{name.upper()}" for name in Settings.model_fields}


def env_names(node: Any) -> set[str]:
    """Every ASNFLOW_* name set anywhere in a parsed manifest (maps, env lists, ConfigMap data)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("ASNFLOW_"):
                found.add(key)
            if key == "name" and isinstance(value, str) and value.startswith("ASNFLOW_"):
                found.add(value)
            found |= env_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= env_names(item)
    return found


def test_compose_and_kubernetes_files_parse_and_set_only_known_settings() -> None:
    files = [DEPLOY / "compose.yaml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]
    assert len(files) >= 2
    seen: set[str] = set()
    for path in files:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert documents, path
        seen |= env_names(documents)
    assert seen, "the manifests configure nothing"
    assert seen <= READ, f"set but never read by Settings: {sorted(seen - READ)}"
    assert {"ASNFLOW_DATABASE_URL", "ASNFLOW_TEMPORAL_ADDRESS", "ASNFLOW_PAYLOAD_KEY_FILE", "ASNFLOW_STORE_KEY_FILE"} <= seen


def test_kubernetes_has_probes_autoscaling_disruption_budgets_and_secret_references() -> None:
    docs = [d for p in (DEPLOY / "k8s").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d]
    kinds = [d["kind"] for d in docs]
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"} <= set(kinds)
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "asnflow-api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    text = "\n".join(p.read_text() for p in (DEPLOY / "k8s").glob("*.yaml"))
    assert "secretKeyRef" in text and not re.search(r"password\s*[:=]\s*\S", text, re.IGNORECASE)


def test_the_dockerfile_runs_the_cli_as_an_unprivileged_user() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["asnflow"]' in text and "USER 10001" in text
