"""examples/gitops: the manifests parse, point at paths that exist, and their chart values
and LabelingJob pass the chart's schema and the API models."""

from __future__ import annotations

from pathlib import Path

import yaml

from labelpilot.api.spec import LabelingJobSpec
from tests.chart.helm import CHART, REPO, helm

EXAMPLES = REPO / "examples" / "gitops"
KEY = "resource.customizations.health.labelpilot.dev_LabelingJob"


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def values_pass_the_schema(values: dict, tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    result = helm("template", "labelpilot", str(CHART), "-n", "labelpilot-system", "-f", str(path))
    assert result.returncode == 0, result.stderr


def test_argocd_applications(tmp_path):
    apps = {d["metadata"]["name"]: d for d in docs(EXAMPLES / "argocd" / "application.yaml")}
    assert set(apps) == {"labelpilot", "labelpilot-jobs"}
    for app in apps.values():
        assert app["kind"] == "Application"
        assert (REPO / app["spec"]["source"]["path"]).is_dir()
    values_pass_the_schema(apps["labelpilot"]["spec"]["source"]["helm"]["valuesObject"], tmp_path)


def test_argocd_cm_patch_carries_the_health_check():
    (patch,) = docs(EXAMPLES / "argocd" / "argocd-cm-patch.yaml")
    shipped = (REPO / "deploy" / "argocd" / "labelingjob-health.lua").read_text()
    assert patch["data"][KEY] == shipped


def test_flux_objects(tmp_path):
    objects = [d for f in sorted((EXAMPLES / "flux").glob("*.yaml")) for d in docs(f)]
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    (source,) = by_kind["GitRepository"]
    (release,) = by_kind["HelmRelease"]
    assert release["spec"]["chart"]["spec"]["sourceRef"] == {
        "kind": "GitRepository",
        "name": source["metadata"]["name"],
    }
    assert (REPO / release["spec"]["chart"]["spec"]["chart"] / "Chart.yaml").exists()
    values_pass_the_schema(release["spec"]["values"], tmp_path)
    kustomizations = {k["metadata"]["name"]: k for k in by_kind["Kustomization"]}
    for kustomization in kustomizations.values():
        assert (REPO / kustomization["spec"]["path"]).is_dir()
        for dependency in kustomization["spec"].get("dependsOn", []):
            assert dependency["name"] in kustomizations
    assert kustomizations["labelpilot-jobs"]["spec"]["wait"] is True


def test_jobs_kustomization_and_labeling_job():
    kustomization = docs(EXAMPLES / "jobs" / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (EXAMPLES / "jobs" / resource).exists()
    (job,) = docs(EXAMPLES / "jobs" / "labelingjob.yaml")
    assert job["apiVersion"] == "labelpilot.dev/v1alpha1" and job["kind"] == "LabelingJob"
    LabelingJobSpec.from_k8s(job["spec"])
    (claim,) = docs(EXAMPLES / "jobs" / "data-claim.yaml")
    assert claim["metadata"]["name"] == job["spec"]["storage"]["volumeClaimName"]
