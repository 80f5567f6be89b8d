"""The cluster files work the first time: each passes the validator its ecosystem
provides, and they agree with each other and with cluster/README.md on sizing."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import tomllib
import yaml
from dockerfile_parse import DockerfileParser
from kubernetes.client import ApiClient
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.kuberay_schema import RAYJOB

REPO = Path(__file__).resolve().parent.parent
CLUSTER = REPO / "cluster"


def pins() -> dict[str, str]:
    """name -> pinned version, from pyproject.toml's dependencies."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    found = (re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^;\s]+)", d) for d in deps)
    return {m.group(1): m.group(2) for m in found if m}


def aws() -> dict:
    return yaml.safe_load((CLUSTER / "aws.yaml").read_text())


def rayjob() -> dict:
    return yaml.safe_load((CLUSTER / "rayjob.yaml").read_text())


def installs_cpu_torch_first(commands: list[str]) -> bool:
    torch = [i for i, c in enumerate(commands) if f"torch=={pins()['torch']}" in c
             and "download.pytorch.org/whl/cpu" in c]  # fmt: skip
    project = [i for i, c in enumerate(commands) if "install" in c and " -e " in c + " "]
    return bool(torch and project and torch[0] < project[0])


def test_the_aws_launcher_config_passes_rays_own_validation():
    validate_config(prepare_config(aws()))  # what `ray up` runs
    broken = aws()
    broken["available_node_types"]["cpu_worker"]["node_confg"] = {}
    with pytest.raises(jsonschema.ValidationError, match="node_confg"):
        validate_config(prepare_config(broken))


def test_every_aws_node_can_write_to_the_bucket_and_installs_the_cpu_torch():
    config = aws()
    for name, node in config["available_node_types"].items():
        assert node["node_config"]["IamInstanceProfile"]["Arn"].startswith("arn:aws:iam::"), name
    assert installs_cpu_torch_first(config["setup_commands"])


def trials_per_worker(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"holds? (\d+) (?:paper-preset )?trials", text)}


def test_the_configs_and_the_cluster_readme_agree_on_sizing():
    """One paper-preset trial per CPU: a 32-CPU worker holds 32 trials everywhere."""
    readme = (CLUSTER / "README.md").read_text()
    assert trials_per_worker(readme) == {32}
    assert trials_per_worker((CLUSTER / "aws.yaml").read_text()) == {32}
    assert trials_per_worker((CLUSTER / "rayjob.yaml").read_text()) == {32}
    worker = rayjob()["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert worker["rayStartParams"]["num-cpus"] == "32"
    resources = worker["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "32"


def pod_template_round_trip(template: dict) -> dict:
    """The template through the Kubernetes client's V1PodTemplateSpec and back: fields
    the model does not know are dropped, values of the wrong type raise."""
    client = ApiClient()
    model = client.deserialize(json.dumps(template), "V1PodTemplateSpec", "application/json")
    return client.sanitize_for_serialization(model)


def test_the_rayjob_has_kuberays_v1_fields_and_valid_pod_templates():
    job = rayjob()
    jsonschema.validate(job, RAYJOB)
    cluster = job["spec"]["rayClusterSpec"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for group in groups:
        assert pod_template_round_trip(group["template"]) == group["template"]
    # what these checks catch: a misspelt field, a number where KubeRay wants a string
    typo = copy.deepcopy(job)
    typo["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replica"] = 3
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        jsonschema.validate(typo, RAYJOB)
    number = copy.deepcopy(job)
    number["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(number, RAYJOB)
    container = copy.deepcopy(groups[0]["template"])
    container["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert pod_template_round_trip(container) != container


def test_the_rayjob_autoscales_as_its_comments_say_and_runs_a_config_in_the_image():
    job, docker = rayjob(), dockerfile()
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["rayVersion"] == pins()["ray"]
    for group in cluster["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group.get("replicas", 0) <= group["maxReplicas"]
    config = re.search(r"--config (\S+)", job["spec"]["entrypoint"]).group(1)
    workdir = docker.structure_workdir()
    assert config.startswith(workdir + "/")  # absolute, inside the image's checkout
    assert (REPO / Path(config).relative_to(workdir)).is_file()


class Dockerfile:
    def __init__(self, path: Path) -> None:
        self.parser = DockerfileParser(path=str(path))

    def instructions(self, name: str) -> list[str]:
        return [i["value"] for i in self.parser.structure if i["instruction"] == name]

    def structure_workdir(self) -> str:
        return self.instructions("WORKDIR")[-1]


def dockerfile() -> Dockerfile:
    return Dockerfile(CLUSTER / "Dockerfile")


def test_the_image_is_rays_own_with_the_cpu_torch_and_no_checkout_clutter():
    docker = dockerfile()
    assert docker.parser.baseimage == f"rayproject/ray:{pins()['ray']}-py311-cpu"
    assert installs_cpu_torch_first(docker.instructions("RUN"))
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", "results"} <= ignored
