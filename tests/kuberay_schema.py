"""The fields of KubeRay's RayJob (ray.io/v1) that a RayJob file may set, as a JSON
schema for the test of cluster/rayjob.yaml.

Transcribed from the CRD's openAPIV3Schema (ray-project/kuberay,
ray-operator/config/crd/bases/ray.io_rayjobs.yaml at feeaf72, August 2026): the
property names of spec, spec.rayClusterSpec, its headGroupSpec and each of its
workerGroupSpecs, their required fields, and the types of the fields this project
sets. Kubernetes prunes fields a CRD does not know without a word (unless
`kubectl apply --validate=strict`), so here an unknown field is an error: a typo
would otherwise run a cluster that silently ignores a setting. Pod templates are
checked with the Kubernetes client's own models (tests/test_cluster_configs.py).
"""

from __future__ import annotations

from typing import Any

INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
STRING, NUMBER, BOOLEAN = {"type": "string"}, {"type": "number"}, {"type": "boolean"}
STRING_MAP = {"type": "object", "additionalProperties": STRING}
ANY_OBJECT = {"type": "object"}


def closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly these properties (each unconstrained unless given)."""
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


# what head and worker groups share: rayStartParams values are strings in KubeRay
GROUP = {
    "labels": STRING_MAP,
    "rayStartParams": STRING_MAP,
    "resources": STRING_MAP,
    "template": ANY_OBJECT,
}

HEAD_GROUP = closed(
    {
        **GROUP,
        "enableIngress": BOOLEAN,
        "headService": ANY_OBJECT,
        "ingressOptions": ANY_OBJECT,
        "serviceType": STRING,
    },
    required=["template"],
)

WORKER_GROUP = closed(
    {
        **GROUP,
        "groupName": STRING,
        "idleTimeoutSeconds": INT32,
        "maxReplicas": INT32,
        "minReplicas": INT32,
        "numOfHosts": INT32,
        "priority": INT32,
        "replicas": INT32,
        "scaleStrategy": ANY_OBJECT,
        "suspend": BOOLEAN,
    },
    required=["groupName", "maxReplicas", "minReplicas", "template"],
)

RAY_CLUSTER_SPEC = closed(
    {
        "authOptions": ANY_OBJECT,
        "autoscalerOptions": ANY_OBJECT,
        "enableInTreeAutoscaling": BOOLEAN,
        "gcsFaultToleranceOptions": ANY_OBJECT,
        "headGroupSpec": HEAD_GROUP,
        "headServiceAnnotations": STRING_MAP,
        "historyServerOptions": ANY_OBJECT,
        "managedBy": STRING,
        "networkPolicy": ANY_OBJECT,
        "rayVersion": STRING,
        "suspend": BOOLEAN,
        "tlsOptions": ANY_OBJECT,
        "upgradeStrategy": ANY_OBJECT,
        "workerGroupSpecs": {"type": "array", "items": WORKER_GROUP},
    },
    required=["headGroupSpec"],
)

RAYJOB_SPEC = closed(
    {
        "activeDeadlineSeconds": INT32,
        "backoffLimit": INT32,
        "clusterSelector": STRING_MAP,
        "deletionStrategy": ANY_OBJECT,
        "entrypoint": STRING,
        "entrypointNumCpus": NUMBER,
        "entrypointNumGpus": NUMBER,
        "entrypointResources": STRING,
        "jobId": STRING,
        "managedBy": STRING,
        "metadata": STRING_MAP,
        "preRunningDeadlineSeconds": INT32,
        "rayClusterSpec": RAY_CLUSTER_SPEC,
        "runtimeEnvYAML": STRING,
        "shutdownAfterJobFinishes": BOOLEAN,
        "submissionMode": STRING,
        "submitterConfig": ANY_OBJECT,
        "submitterPodTemplate": ANY_OBJECT,
        "suspend": BOOLEAN,
        "ttlSecondsAfterFinished": INT32,
    }
)

RAYJOB = closed(
    {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayJob"},
        "metadata": ANY_OBJECT,
        "spec": RAYJOB_SPEC,
    },
    required=["apiVersion", "kind", "metadata", "spec"],
)
