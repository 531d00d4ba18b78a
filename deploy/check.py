#!/usr/bin/env python3
"""Checks the deployment files that cannot run here (no Docker engine, no cluster).

`make test` runs it (deploy/local/test.sh), with the tools' Python (PyYAML, check-jsonschema):
- deploy/compose/compose.yaml against the compose-spec schema, and what it must say: every
  service, two Portcullis replicas, a health check, secrets only by reference, the nginx site
  that server/tests/it/tls.rs runs, with every variable of it set;
- deploy/kubernetes, rendered with `kubectl kustomize` (base and the example overlay): the
  replicas, probes on /readyz and /healthz, the migration Job, the registry's configuring init
  container, one Ingress routing as the nginx site does, secrets by reference only;
- both against the server: every PORTCULLIS_* variable they set is one `portcullis` reads, and
  the addresses they wire together agree (listen ports, internal URLs, the public host).
Exits non-zero with every failed check listed.
"""

import pathlib
import re
import subprocess
import sys
from urllib.parse import urlparse

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
tools = pathlib.Path(sys.executable).parent
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def known_variables():
    config = (root / "server/src/config.rs").read_text()
    return set(re.findall(r'"(PORTCULLIS_[A-Z0-9_]+)"', config)) | {"PORTCULLIS_CONFIG"}


def template_variables():
    text = (root / "deploy/nginx/portcullis.conf.template").read_text()
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    return set(re.findall(r"\$\{([A-Z0-9_]+)\}", body))


def is_secret_name(name):
    return any(word in name for word in ("PASSWORD", "SECRET", "KEY", "DATABASE_URL"))


def port_of(address):
    return address.rsplit(":", 1)[1]


def check_compose(known):
    path = root / "deploy/compose/compose.yaml"
    schema = subprocess.run(
        [str(tools / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    check(schema.returncode == 0, f"compose.yaml is valid compose-spec: {schema.stdout}{schema.stderr}")
    doc = yaml.safe_load(path.read_text())
    services = doc.get("services", {})
    names = ("postgres", "migrate", "registry-config", "portcullis", "registry", "proxy")
    if not all([check(name in services, f"compose has the {name} service") for name in names]):
        return
    gc, registry = services.get("registry-gc", {}), services["registry"]
    check(
        gc.get("entrypoint", [])[1:2] == ["garbage-collect"]
        and "maintenance" in gc.get("profiles", [])
        and set(gc.get("volumes", [])) >= {v for v in registry.get("volumes", []) if "registry-data" in v},
        "compose's registry-gc collects the registry's own storage, on demand only (profile maintenance)",
    )
    p = services["portcullis"]
    check(p.get("deploy", {}).get("replicas", 1) >= 2, "compose runs at least two Portcullis replicas")
    check(p.get("command") == ["serve"], "the portcullis service serves")
    check(p.get("healthcheck", {}).get("test", [])[:2] == ["CMD", "/portcullis"], "Portcullis has a health check")
    check(services["migrate"].get("command") == ["migrate"], "the migrate service migrates")
    env = p["environment"]
    for name, value in env.items():
        check(name in known, f"compose sets {name}, which portcullis reads")
        if is_secret_name(name) and name != "PORTCULLIS_DATABASE_URL":
            check(re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*)?\}", str(value)) is not None, f"{name} comes from .env only")
    check("${POSTGRES_PASSWORD" in env["PORTCULLIS_DATABASE_URL"], "the database password comes from .env")
    check(
        urlparse(env["PORTCULLIS_INTERNAL_URL"]).port == int(port_of(env["PORTCULLIS_LISTEN"]))
        and urlparse(env["PORTCULLIS_INTERNAL_URL"]).hostname == "portcullis",
        "the registry reaches Portcullis at its service and listen port",
    )
    check(
        urlparse(env["PORTCULLIS_REGISTRY_URL"]).port == int(port_of(env["PORTCULLIS_REGISTRY_LISTEN"]))
        and urlparse(env["PORTCULLIS_REGISTRY_URL"]).hostname == "registry",
        "Portcullis reaches the registry at its service and listen port",
    )
    check(
        env["PORTCULLIS_PUBLIC_URL"] == "https://${PORTCULLIS_HOSTNAME:?set PORTCULLIS_HOSTNAME in .env}"
        and env["PORTCULLIS_REGISTRY_HOST"] == "${PORTCULLIS_HOSTNAME}",
        "users reach both on the one https host name",
    )
    config = services["registry-config"]
    check(config.get("command", [])[:1] == ["registry-config"], "registry-config writes the registry's configuration")
    registry = services["registry"]
    check(
        registry.get("command") == ["serve", "/etc/distribution/config.yml"]
        and "registry-config:/etc/distribution:ro" in registry.get("volumes", []),
        "the registry serves the configuration Portcullis wrote",
    )
    proxy = services["proxy"]
    # Only the proxy's own address is trusted with X-Forwarded-For: a whole private range would
    # let any container on the network pose as the proxy.
    proxy_address = (proxy.get("networks") or {}).get("inside", {}).get("ipv4_address")
    check(
        proxy_address is not None and env["PORTCULLIS_TRUSTED_PROXIES"] == proxy_address,
        "compose trusts X-Forwarded-For from the proxy's fixed address only",
    )
    mounts = proxy.get("volumes", [])
    check(
        "../nginx/portcullis.conf.template:/etc/nginx/templates/portcullis.conf.template:ro" in mounts,
        "the proxy runs the nginx site that server/tests/it/tls.rs runs",
    )
    proxy_env = proxy.get("environment", {})
    for var in template_variables():
        check(var in proxy_env, f"the proxy sets {var} for the nginx site")
    check(
        proxy_env.get("PORTCULLIS_UPSTREAM") == f"portcullis:{port_of(env['PORTCULLIS_LISTEN'])}"
        and proxy_env.get("REGISTRY_UPSTREAM") == f"registry:{port_of(env['PORTCULLIS_REGISTRY_LISTEN'])}",
        "the proxy's upstreams are the services' listen ports",
    )
    example = (root / "deploy/compose/.env.example").read_text()
    for var in sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", path.read_text()))):
        check(f"{var}=" in example, f".env.example names {var}")


def render(directory):
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True)
    check(out.returncode == 0, f"kubectl kustomize {directory}: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d] if out.returncode == 0 else []


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_kubernetes(known, directory, replicas):
    docs = render(directory)
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    where = directory.relative_to(root)
    wanted = [
        ("ConfigMap", "portcullis"),
        ("Deployment", "portcullis"),
        ("Service", "portcullis"),
        ("Job", "portcullis-migrate"),
        ("Deployment", "registry"),
        ("Service", "registry"),
        ("Ingress", "portcullis"),
        ("Ingress", "portcullis-gate"),
    ]
    if not all([check(k in by, f"{where} renders {k[0]} {k[1]}") for k in wanted]):
        return
    check(not any(d["kind"] == "Secret" for d in docs), f"{where} holds no Secret: secrets are referenced")
    config = by[("ConfigMap", "portcullis")]["data"]
    for name in config:
        check(name in known, f"{where}: the ConfigMap sets {name}, which portcullis reads")
        check(not is_secret_name(name), f"{where}: {name} is a secret and must not be in the ConfigMap")
    trusted = config.get("PORTCULLIS_TRUSTED_PROXIES", "")
    check(
        not any(r in trusted for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
        f"{where}: trusted_proxies names the pod network, not every private range",
    )
    policy = by.get(("NetworkPolicy", "portcullis"))
    check(
        policy is not None and policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "portcullis"},
        f"{where}: a NetworkPolicy lets only the ingress controller, the registry and Prometheus reach Portcullis",
    )
    deployment = by[("Deployment", "portcullis")]
    check(deployment["spec"]["replicas"] == replicas, f"{where} runs {replicas} Portcullis replicas")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    check(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{where}: readiness on /readyz")
    check(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{where}: liveness on /healthz")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{where}: Portcullis runs as non-root")
    containers = [container, by[("Job", "portcullis-migrate")]["spec"]["template"]["spec"]["containers"][0]]
    containers += by[("Deployment", "registry")]["spec"]["template"]["spec"].get("initContainers", [])
    for c in containers:
        for name, e in env_of(c).items():
            check(name in known, f"{where}: {c['name']} sets {name}, which portcullis reads")
            if is_secret_name(name):
                check("secretKeyRef" in e.get("valueFrom", {}), f"{where}: {c['name']} reads {name} from a Secret")
        check(":" in c["image"] or directory.name == "base", f"{where}: {c['name']} runs a tagged image")
    check(
        {"PORTCULLIS_DATABASE_URL", "PORTCULLIS_KEYS_ENCRYPTION_KEY", "PORTCULLIS_REGISTRY_EVENTS_SECRET"}
        <= set(env_of(container)),
        f"{where}: Portcullis gets its database URL and secrets",
    )
    job = by[("Job", "portcullis-migrate")]["spec"]["template"]["spec"]["containers"][0]
    check(job.get("args") == ["migrate"], f"{where}: the Job migrates")
    init = by[("Deployment", "registry")]["spec"]["template"]["spec"].get("initContainers", [])
    check(
        bool(init) and init[0].get("args", [])[:1] == ["registry-config"],
        f"{where}: the registry is configured by portcullis registry-config",
    )
    host = urlparse(config["PORTCULLIS_PUBLIC_URL"]).hostname
    check(config["PORTCULLIS_PUBLIC_URL"].startswith("https://"), f"{where}: public_url is https")
    check(config["PORTCULLIS_REGISTRY_HOST"] == host, f"{where}: users reach the registry on the public host")
    check(
        urlparse(config["PORTCULLIS_INTERNAL_URL"]).port == int(port_of(config["PORTCULLIS_LISTEN"])),
        f"{where}: the internal URL uses Portcullis's listen port",
    )
    gc = by.get(("CronJob", "registry-gc"))
    if check(gc is not None, f"{where} renders the registry's garbage collection (CronJob registry-gc)"):
        spec = gc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        script = spec["containers"][0]["command"][-1]
        check(gc["spec"].get("concurrencyPolicy") == "Forbid", f"{where}: one garbage collection at a time")
        check(
            "REGISTRY_STORAGE_MAINTENANCE_READONLY" in script and "trap readonly_off EXIT" in script
            and script.index("READONLY={") < script.index("garbage-collect"),
            f"{where}: the garbage collection runs with the registry read-only, and always ends it",
        )
        role = by.get(("Role", "registry-gc"), {}).get("rules", [])
        deploy_rules = [r for r in role if "deployments" in r.get("resources", [])]
        check(
            spec.get("serviceAccountName") == "registry-gc"
            and all(r.get("resourceNames") == ["registry"] for r in deploy_rules),
            f"{where}: the garbage collection's account may change the registry's Deployment only",
        )
        strategy = by[("Deployment", "registry")]["spec"].get("strategy", {}).get("type")
        check(strategy == "Recreate", f"{where}: the registry's pod is replaced, not doubled, on its one volume")
    ingress = by[("Ingress", "portcullis")]["spec"]
    rule = ingress["rules"][0]
    check(rule["host"] == host and ingress["tls"][0]["hosts"] == [host], f"{where}: the Ingress serves {host} over TLS")
    routes = {(p["path"], p["pathType"]): p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    check(
        routes == {("/v2/token", "Exact"): "portcullis", ("/v2/", "Prefix"): "registry", ("/", "Prefix"): "portcullis"},
        f"{where}: the Ingress routes as the nginx site does: {routes}",
    )
    gate = by[("Ingress", "portcullis-gate")]
    gate_rule = gate["spec"]["rules"][0]
    gate_routes = {p["path"]: p["backend"]["service"]["name"] for p in gate_rule["http"]["paths"]}
    check(
        gate_rule["host"] == host
        and gate["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/use-regex") == "true"
        and gate_routes == {"/v2/.+/(manifests|referrers)/[^/]+$": "portcullis"},
        f"{where}: the manifest paths go to Portcullis's gate: {gate_routes}",
    )


def check_haproxy():
    path = root / "deploy/haproxy/haproxy.cfg"
    out = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    check(out.returncode == 0, f"haproxy -c accepts {path.name}: {out.stdout}{out.stderr}")


def main():
    known = known_variables()
    check_compose(known)
    check_haproxy()
    check_kubernetes(known, root / "deploy/kubernetes/base", replicas=2)
    check_kubernetes(known, root / "deploy/kubernetes/overlays/example", replicas=3)
    if failures:
        print("deployment files: failed checks:", *failures, sep="\n  - ")
        sys.exit(1)
    print("deployment files: compose and Kubernetes manifests are consistent")


if __name__ == "__main__":
    main()
