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
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
ANY_OBJECT = {"type": "object"}


def closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly these properties (each unconstrained unless given)."""
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


HEAD_GROUP = closed(
    {
        "enableIngress": {"type": "boolean"},
        "headService": ANY_OBJECT,
        "ingressOptions": ANY_OBJECT,
        "labels": STRING_MAP,
        "rayStartParams": STRING_MAP,
        "resources": STRING_MAP,
        "serviceType": {"type": "string"},
        "template": ANY_OBJECT,
    },
    required=["template"],
)

WORKER_GROUP = closed(
    {
        "groupName": {"type": "string"},
        "idleTimeoutSeconds": INT32,
        "labels": STRING_MAP,
        "maxReplicas": INT32,
        "minReplicas": INT32,
        "numOfHosts": INT32,
        "priority": INT32,
        "rayStartParams": STRING_MAP,
        "replicas": INT32,
        "resources": STRING_MAP,
        "scaleStrategy": ANY_OBJECT,
        "suspend": {"type": "boolean"},
        "template": ANY_OBJECT,
    },
    required=["groupName", "maxReplicas", "minReplicas", "template"],
)

RAY_CLUSTER_SPEC = closed(
    {
        "authOptions": ANY_OBJECT,
        "autoscalerOptions": ANY_OBJECT,
        "enableInTreeAutoscaling": {"type": "boolean"},
        "gcsFaultToleranceOptions": ANY_OBJECT,
        "headGroupSpec": HEAD_GROUP,
        "headServiceAnnotations": STRING_MAP,
        "historyServerOptions": ANY_OBJECT,
        "managedBy": {"type": "string"},
        "networkPolicy": ANY_OBJECT,
        "rayVersion": {"type": "string"},
        "suspend": {"type": "boolean"},
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
        "entrypoint": {"type": "string"},
        "entrypointNumCpus": {"type": "number"},
        "entrypointNumGpus": {"type": "number"},
        "entrypointResources": {"type": "string"},
        "jobId": {"type": "string"},
        "managedBy": {"type": "string"},
        "metadata": STRING_MAP,
        "preRunningDeadlineSeconds": INT32,
        "rayClusterSpec": RAY_CLUSTER_SPEC,
        "runtimeEnvYAML": {"type": "string"},
        "shutdownAfterJobFinishes": {"type": "boolean"},
        "submissionMode": {"type": "string"},
        "submitterConfig": ANY_OBJECT,
        "submitterPodTemplate": ANY_OBJECT,
        "suspend": {"type": "boolean"},
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
