//! The Kubernetes examples in deploy/kubernetes/ hold together: every
//! manifest parses, the commands they run are command lines rev accepts,
//! the config they mount loads with the environment the pods get (every
//! `${VAR}` it needs comes from the Secret), and the names they refer to
//! (ConfigMap, Secret, keys, mount path) exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// Every manifest, by kind.
fn manifests() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("deploy/kubernetes exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for key in ["apiVersion", "kind", "metadata"] {
            assert!(doc.get(key).is_some(), "{}: no {key}", path.display());
        }
        out.push((path, doc));
    }
    out
}

fn one<'a>(all: &'a [(PathBuf, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = all
        .iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} expected");
    found[0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

/// `rev ARGS --help` exits 0 only when clap accepts every flag and value
/// before `--help`: the arguments are a real rev command line.
fn assert_rev_accepts(args: &[String]) {
    let out = Command::new(env!("CARGO_BIN_EXE_rev"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "`rev {}` is not a command rev accepts: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let sub = args
        .iter()
        .find(|a| ["upgrade", "current", "status", "downgrade", "stamp"].contains(&a.as_str()))
        .expect("a rev command");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Usage: rev {sub}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The `-c PATH` of a command line.
fn config_arg(args: &[String]) -> &str {
    let at = args.iter().position(|a| a == "-c").expect("-c PATH");
    &args[at + 1]
}

fn secret_keys(secret: &Value) -> BTreeSet<String> {
    secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// The config of the ConfigMap, loaded with only `env` set; the variables
/// it asked for.
fn load_config(
    config_map: &Value,
    env: &BTreeSet<String>,
) -> (rev::config::Config, BTreeSet<String>) {
    let text = config_map["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml in data");
    let asked = std::cell::RefCell::new(BTreeSet::new());
    let config = rev::config::Config::parse(
        text,
        Path::new("/etc/rev/config.yaml"),
        Path::new("/etc/rev"),
        &|var| {
            asked.borrow_mut().insert(var.to_owned());
            env.contains(var).then(|| "x".to_owned())
        },
    )
    .unwrap_or_else(|e| panic!("config.yaml does not load with {env:?}: {e}"));
    (config, asked.into_inner())
}

/// The pod's config volume: its ConfigMap's name and where it is mounted.
fn config_mount(pod: &Value, container: &Value) -> (String, String) {
    let mount = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .next()
        .expect("a mount");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume is declared");
    (
        volume["configMap"]["name"].as_str().unwrap().to_owned(),
        mount["mountPath"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn the_job_upgrades_every_database_with_the_secret_and_config_it_names() {
    let all = manifests();
    assert!(
        all.len() >= 4,
        "ConfigMap, Secret, Job and Deployment expected"
    );
    let config_map = one(&all, "ConfigMap");
    let secret = one(&all, "Secret");
    let job = one(&all, "Job");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    let args = strings(&container["args"]);
    assert_rev_accepts(&args);
    for flag in ["upgrade", "head", "--all"] {
        assert!(
            args.iter().any(|a| a == flag),
            "the Job runs `rev upgrade head --all`: {args:?}"
        );
    }
    assert_eq!(
        container["envFrom"][0]["secretRef"]["name"],
        secret["metadata"]["name"]
    );
    let (map_name, path) = config_mount(pod, container);
    assert_eq!(Value::from(map_name), config_map["metadata"]["name"]);
    assert_eq!(format!("{path}/config.yaml"), config_arg(&args));
    // With the whole Secret in its environment, every database is usable.
    let keys = secret_keys(secret);
    let (config, asked) = load_config(config_map, &keys);
    assert!(
        asked.is_subset(&keys),
        "variables the Secret lacks: {:?}",
        asked.difference(&keys).collect::<Vec<_>>()
    );
    assert!(config.databases.len() >= 2);
    let members = rev::fleet::select(&config, &[], true, Path::new("/etc/rev"))
        .expect("every database URL is valid");
    assert_eq!(members.len(), config.databases.len());
    // The variables stand for passwords ("x" here): never shown.
    for m in &members {
        assert!(
            !m.url.to_string().contains(":x@"),
            "a password shown: {}",
            m.url
        );
    }
}

#[test]
fn the_deployment_migrates_in_an_init_container_and_probes_check_heads() {
    let all = manifests();
    let config_map = one(&all, "ConfigMap");
    let secret = one(&all, "Secret");
    let deployment = one(&all, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let init = &pod["initContainers"][0];
    let args = strings(&init["args"]);
    assert_rev_accepts(&args);
    assert_eq!(args[args.len() - 2..], ["upgrade", "head"]);
    let app = &pod["containers"][0];
    let probe = strings(&app["readinessProbe"]["exec"]["command"]);
    assert_eq!(probe[0], "rev");
    assert_rev_accepts(&probe[1..]);
    assert!(
        probe.ends_with(&["current".to_owned(), "--check-heads".to_owned()]),
        "{probe:?}"
    );
    // Both containers get only the keys they name, and those exist.
    let keys = secret_keys(secret);
    for container in [init, app] {
        let env: BTreeSet<String> = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                let r = &e["valueFrom"]["secretKeyRef"];
                assert_eq!(r["name"], secret["metadata"]["name"]);
                let key = r["key"].as_str().unwrap();
                assert!(keys.contains(key), "the Secret has no key {key}");
                e["name"].as_str().unwrap().to_owned()
            })
            .collect();
        // The config loads with that environment: the fleet's variables are
        // needed only by --all/--db.
        let (config, _) = load_config(config_map, &env);
        assert!(config.database_url.is_some());
        let (map_name, path) = config_mount(pod, container);
        assert_eq!(Value::from(map_name), config_map["metadata"]["name"]);
        let c = if container == init {
            config_arg(&args)
        } else {
            config_arg(&probe)
        };
        assert_eq!(format!("{path}/config.yaml"), c);
    }
}
