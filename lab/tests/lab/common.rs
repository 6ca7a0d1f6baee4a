//! What the lab's tests share: the repository, one full `make lab` (run once per test
//! binary, as docs/LAB.md says to run it), further invocations with knobs, and commands run
//! inside a private network namespace (so a port of the documents' — 9000 — never meets
//! another program of this machine).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .expect("the repository")
}

/// One `make lab` invocation's results.
#[derive(Clone)]
pub struct Lab {
    /// Its folder (target/lab/<date>_<time>).
    pub dir: PathBuf,
    /// What it printed (the diagrams and the table).
    pub table: String,
    /// Its lab.json.
    pub json: String,
    /// Whether hb_lab exited 0.
    pub ok: bool,
}

impl Lab {
    /// lab.json's rows, one line each.
    pub fn rows(&self) -> Vec<&str> {
        self.json
            .lines()
            .filter(|l| l.contains("\"pair\""))
            .collect()
    }

    /// Whether runs were skipped (no namespaces here); under CI that is a failure.
    pub fn skipped(&self) -> bool {
        let n = self
            .rows()
            .iter()
            .filter(|r| r.contains("\"verdict\": \"skipped"))
            .count();
        if n > 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "{n} lab runs skipped under CI:\n{}",
                self.json
            );
            eprintln!("SKIPPED {n} lab runs (no namespace or iptables here)");
        }
        n > 0
    }

    /// A run's folder (`hb-hung`).
    pub fn run(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// lab.json's row of a run (by its folder's name).
    pub fn row(&self, run: &str) -> &str {
        let key = format!("\"run\": \"{run}\"");
        self.rows()
            .into_iter()
            .find(|r| r.contains(&key))
            .unwrap_or_else(|| panic!("no row {run} in\n{}", self.json))
    }
}

/// `make lab KNOBS…` as a student types it, from the repository's root; the knobs not given
/// are removed from the environment. `extra` is more environment (LAB_ROOT, LAB_PLAN).
pub fn make_lab(args: &[&str], extra: &[(&str, &str)]) -> Lab {
    lab_of(&make_lab_output(args, extra))
}

/// [`make_lab`]'s process output, for a command that is meant to be refused.
pub fn make_lab_output(args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut c = Command::new("make");
    c.arg("-s").arg("lab").args(args).current_dir(root());
    let more = ["LAB_PLAN", "LAB_ROOT", "MAKEFLAGS", "MFLAGS"];
    for k in heartbeat_lab::KNOBS.iter().chain(&more) {
        c.env_remove(k);
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().expect("make lab")
}

/// The results of an invocation, from the folder lab/run.sh named on its last lines.
pub fn lab_of(out: &Output) -> Lab {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let dir = stderr
        .lines()
        .chain(stdout.lines())
        .find_map(|l| {
            l.strip_prefix("== results in ")
                .or_else(|| l.strip_prefix("== planned in "))
        })
        .map(|l| root().join(l.split(" (").next().unwrap_or(l)))
        .unwrap_or_else(|| panic!("no results folder named:\n{stdout}\n{stderr}"));
    let json = std::fs::read_to_string(dir.join("lab.json")).unwrap_or_default();
    Lab {
        dir,
        table: stdout,
        json,
        ok: out.status.success(),
    }
}

/// The full lab, run once for every test of this binary: the command docs/LAB.md gives.
pub fn full_lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let doc = std::fs::read_to_string(root().join("docs/LAB.md")).unwrap();
        let cmd = crate::documents::commands(&doc)
            .into_iter()
            .find(|c| c.split('#').next().unwrap().trim() == "make lab")
            .expect("docs/LAB.md gives `make lab`");
        assert!(cmd.starts_with("make lab"));
        let lab = make_lab(&[], &[]);
        println!("{}", lab.table);
        lab
    })
}

/// A shell script run by bash from the repository's root, inside a network namespace of
/// its own (loopback up), so that the documents' fixed ports meet nothing else here.
pub fn in_netns(script: &str, secs: u32) -> Output {
    let wrapped = format!("ip link set lo up\n{script}");
    Command::new("timeout")
        .args([
            "-k",
            "5",
            &secs.to_string(),
            "unshare",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "bash",
            "-c",
            &wrapped,
        ])
        .current_dir(root())
        .env_remove("RUST_LOG")
        .output()
        .expect("unshare bash")
}
