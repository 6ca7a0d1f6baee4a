//! The documents' commands, run: every command of README.md and docs/LAB.md, taken from the
//! documents themselves (each ```sh block, and each inline `make lab …`), so a changed
//! command is a tested command; the output they promise is checked where it is stable.
//!
//! `make lab …` commands: the full `make lab` is [`full_lab`]; a command whose runs that
//! invocation already made with the same settings is planned (`LAB_PLAN=1`: each run's
//! settings written, nothing run) and its plan compared with those runs, setting by setting;
//! any other is run for real. Commands this machine cannot run say why in the test, never
//! silently: `tc … netem` must fail only for want of `sch_netem`; the article's C needs the
//! article (HB_ARTICLE=path of seed 000's text), which the project never contains.

use crate::common::{full_lab, in_netns, lab_of, make_lab, make_lab_output, root, Lab};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;

/// The ```sh blocks of a document, with the heading each is under.
pub fn blocks(doc: &str) -> Vec<(String, String)> {
    let (mut out, mut heading, mut cur): (Vec<(String, String)>, String, Option<String>) =
        (Vec::new(), String::new(), None);
    for line in doc.lines() {
        match (&mut cur, line.trim_start()) {
            (None, l) if l.starts_with('#') => heading = l.trim_start_matches('#').trim().into(),
            (None, "```sh") => cur = Some(String::new()),
            (Some(b), "```") => {
                out.push((heading.clone(), std::mem::take(b)));
                cur = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Every command of a document: each line of its ```sh blocks, and each inline `make lab …`.
pub fn commands(doc: &str) -> Vec<String> {
    let mut c: Vec<String> = blocks(doc)
        .iter()
        .flat_map(|(_, b)| b.lines().map(|l| l.trim().to_string()).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut in_block = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("make lab") {
                c.push(span.to_string());
            }
        }
    }
    c
}

/// A `make lab` command's knobs (`SCENARIO=flap FLAP=2`), without a comment or `&`.
fn knobs(cmd: &str) -> Vec<String> {
    cmd.split('#')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('&')
        .split_whitespace()
        .skip(2)
        .fold(Vec::<String>::new(), |mut words, w| {
            // `SCENARIO="lossy slow"` is one knob, as the shell reads it
            match words.last_mut() {
                Some(open) if open.matches('"').count() == 1 => {
                    open.push(' ');
                    open.push_str(w);
                }
                _ => words.push(w.to_string()),
            }
            words
        })
        .into_iter()
        .map(|w| w.replace('"', ""))
        .collect()
}

/// The settings of every run of an invocation: run name → settings file.
fn settings_of(dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(e.path().join("settings")) {
            m.insert(e.file_name().to_string_lossy().into_owned(), s);
        }
    }
    m
}

/// Where the extra invocations keep their folders: not under target/lab, so that
/// target/lab/latest stays the full lab's, as the documents' tcpdump commands expect.
fn extra_root() -> String {
    root().join("target/lab-docs").display().to_string()
}

/// Only one extra lab at a time, after the full one: the machine has two cores.
static LABS: Mutex<()> = Mutex::new(());

/// What the documents' `make lab` commands made, by command. A run whose rows are not all
/// `ok` is kept and reported by [`doc_labs_ok`], so one failure does not make every test
/// that reads the extra labs run them again.
fn run_make_lab(doc: &str, cmd: &str, made: &mut Vec<(String, Lab)>, errors: &mut Vec<String>) {
    let full = full_lab();
    let k = knobs(cmd);
    let args: Vec<&str> = k.iter().map(String::as_str).collect();
    // A command the document shows refused (a bad knob): exit 2, the line the document
    // quotes, and no run made.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let plan_root = std::env::temp_dir().join(format!("hb-lab-plan-{}-{n}", std::process::id()));
    let out = make_lab_output(
        &args,
        &[("LAB_PLAN", "1"), ("LAB_ROOT", plan_root.to_str().unwrap())],
    );
    if out.status.code() == Some(2) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("hb_lab: "))
            .unwrap_or("");
        let quoted = line.get(..line.len().min(40)).unwrap_or(line);
        if quoted.is_empty() || !doc.contains(quoted) || plan_root.exists() {
            errors.push(format!(
                "{cmd}: refused, but the document does not quote the line or a run was made:\n{stderr}"
            ));
        } else {
            println!("{cmd}: refused as the document says: {line}");
        }
        return;
    }
    let plan = lab_of(&out);
    let want = settings_of(&plan.dir);
    assert!(!want.is_empty(), "{cmd}: plans no run");
    let covered = |lab: &Lab| {
        let have = settings_of(&lab.dir);
        want.values().all(|s| have.values().any(|h| h == s))
    };
    if covered(full) {
        println!(
            "{cmd}: its {} runs were made by `make lab` with these settings",
            want.len()
        );
        return;
    }
    if let Some((c, l)) = made.iter().find(|(_, l)| covered(l)) {
        println!("{cmd}: made by `{c}`");
        // lab_for(cmd) finds it under this command too
        let lab = l.clone();
        made.push((cmd.to_string(), lab));
        return;
    }
    let _one = LABS.lock().unwrap_or_else(|e| e.into_inner());
    let lab = make_lab(&args, &[("LAB_ROOT", &extra_root())]);
    // A command the document says may die (answer 11's 0.3 x 3) is an experiment: the row
    // may be off where the lab's model expects no death; its log is what the answer reads.
    let experiment = cmd.contains("# may die");
    if (!lab.ok && !experiment) || lab.rows().len() != want.len() {
        errors.push(format!(
            "{cmd}: not every row ok ({} rows for {} planned):\n{}\n{}",
            lab.rows().len(),
            want.len(),
            lab.table,
            lab.json
        ));
    }
    made.push((cmd.to_string(), lab));
}

/// The extra labs made (command, results) and what went wrong with them.
type Made = (Vec<(String, Lab)>, Vec<String>);

/// The extra invocations the documents' `make lab` commands needed, made once, and what
/// went wrong with any of them.
fn doc_labs_made() -> &'static Made {
    static MADE: std::sync::OnceLock<Made> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let (mut made, mut errors) = (Vec::new(), Vec::new());
        for doc in ["docs/LAB.md", "docs/LAB-ANSWERS.md", "README.md"] {
            let text = std::fs::read_to_string(root().join(doc)).unwrap();
            for c in commands(&text).iter().filter(|c| c.starts_with("make lab")) {
                if c.contains("SCENARIO=busy-gone &") || knobs(c).is_empty() {
                    continue; // run with its companion line below; the full lab
                }
                if c.contains('…') {
                    // A template the student fills in (question 11); the answer key's own
                    // filled-in command is run instead.
                    println!("{c}: a template, not a command");
                    continue;
                }
                run_make_lab(&text, c, &mut made, &mut errors);
            }
        }
        (made, errors)
    })
}

/// The extra invocations the documents' `make lab` commands needed.
pub fn doc_labs() -> &'static Vec<(String, Lab)> {
    &doc_labs_made().0
}

/// Every extra invocation was `ok`.
pub fn doc_labs_ok() {
    let errors = &doc_labs_made().1;
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

/// The lab a document's command made (the full lab, or an extra one).
pub fn lab_for(cmd_knobs: &str) -> &'static Lab {
    doc_labs()
        .iter()
        .find(|(c, _)| knobs(c).join(" ") == cmd_knobs)
        .map(|(_, l)| l)
        .unwrap_or_else(|| full_lab())
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: the lab")]
fn every_make_lab_command_of_the_documents_is_run_or_its_runs_were_made() {
    if full_lab().skipped() {
        return;
    }
    let made = doc_labs();
    doc_labs_ok();
    let before = std::fs::read(full_lab().dir.join("lab.json")).unwrap();
    // Two invocations, two folders: the extra ones never touched the full lab's results.
    for (c, l) in made {
        assert_ne!(l.dir, full_lab().dir, "{c}");
        assert!(l.dir.join("index.html").is_file(), "{c}");
    }
    // Analysing one run again rewrites its drawings, not the lab's results.
    let st = Command::new(env!("CARGO_BIN_EXE_hb_lab"))
        .arg(full_lab().run("hb-partition"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stdout)
    );
    assert_eq!(
        std::fs::read(full_lab().dir.join("lab.json")).unwrap(),
        before
    );
}

#[test]
fn the_commands_are_found_in_the_documents() {
    let lab = std::fs::read_to_string(root().join("docs/LAB.md")).unwrap();
    let c = commands(&lab);
    assert!(
        c.iter().any(|c| c.trim() == "make lab SCENARIO=alive"),
        "{c:?}"
    );
    assert!(c
        .iter()
        .any(|c| c.starts_with("make lab PAIR=ka SCENARIO=gone IDLE=1")));
    assert_eq!(
        knobs("make lab SCENARIO=flap FLAP=2 PAIR=oob   # x"),
        ["SCENARIO=flap", "FLAP=2", "PAIR=oob"]
    );
    assert_eq!(
        knobs("make lab PAIR=kaw SCENARIO=busy-gone &"),
        ["PAIR=kaw", "SCENARIO=busy-gone"]
    );
    // Falsified: a command outside an sh block or a code span is not a command.
    assert!(commands("make lab SCENARIO=x\n").is_empty());
    assert_eq!(
        knobs("make lab SCENARIO=\"lossy slow\" PAIR=hb"),
        ["SCENARIO=lossy slow", "PAIR=hb"]
    );
}

/// The README's blocks, by heading.
fn readme_block(heading: &str) -> String {
    let doc = std::fs::read_to_string(root().join("README.md")).unwrap();
    blocks(&doc)
        .into_iter()
        .filter(|(h, _)| h.starts_with(heading))
        .map(|(_, b)| b)
        .collect::<Vec<_>>()
        .join("")
}

/// `[   6.004] hb_client: text` → (6.004, text).
fn stamped(out: &str) -> Vec<(f64, String)> {
    out.lines()
        .filter_map(heartbeat_lab::parse_line)
        .map(|(t, x)| (t, x.to_string()))
        .collect()
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: a network namespace")]
fn readme_quick_start_works_as_written() {
    let script = readme_block("Quick start");
    assert!(script.contains("kill -STOP $srv"), "{script}");
    let _ = full_lab(); // `make` has built the programs
    let _one = LABS.lock().unwrap_or_else(|e| e.into_inner());
    let out = in_netns(&format!("exec 2>&1\n{script}"), 60);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("no such job"), "{text}");
    let lines: Vec<(f64, String)> = stamped(&text)
        .into_iter()
        .filter(|(_, t)| !t.starts_with("debug"))
        .collect();
    let said: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    // What README's text blocks promise, in order, at their times (±0.3 s).
    let promised = [
        (2.0, "sending heartbeat #1"),
        (4.0, "sending heartbeat #1"),
        (6.0, "sending heartbeat #1"),
        (7.0, "sending heartbeat #2"),
        (8.0, "sending heartbeat #3"),
        (9.0, "connection dead"),
    ];
    assert_eq!(said, promised.map(|(_, t)| t), "{text}");
    for ((t, _), (want, what)) in lines.iter().zip(promised) {
        assert!(
            (t - want).abs() < 0.3,
            "{what} at {t}, README says {want}:\n{text}"
        );
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("[   9.004] hb_client: connection dead"));
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux: a network namespace")]
fn readme_oob_pipeline_ends_by_itself_with_the_data() {
    let script = readme_block("`hb_client_oob`");
    assert!(script.contains("| tail -1"), "{script}");
    let _ = full_lab();
    let _one = LABS.lock().unwrap_or_else(|e| e.into_inner());
    let out = in_netns(&script, 60);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "some application data"
    );
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux")]
fn readme_two_commands() {
    let block = readme_block("Two commands");
    let cmds: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(cmds, ["make demo", "make test"], "{block}");
    // `make test` is the command that runs this test: CI runs exactly it.
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "make test"), "{ci}");
    let _ = full_lab();
    let out = Command::new("make")
        .arg("-s")
        .arg("demo")
        .current_dir(root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("hb_client: connection dead"), "{text}");
    assert!(text.contains("exited with status 1"), "{text}");
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs Linux")]
fn lab_md_other_commands_run() {
    let lab = full_lab();
    if lab.skipped() {
        return;
    }
    let doc = std::fs::read_to_string(root().join("docs/LAB.md")).unwrap();
    let cmds = commands(&doc);
    // `make`: builds (it did, for the lab); again it is quick and fine.
    assert!(cmds
        .iter()
        .any(|c| c.starts_with("make ") && knobs(c).is_empty() && c.contains("builds")));
    let st = Command::new("make")
        .arg("-s")
        .current_dir(root())
        .status()
        .unwrap();
    assert!(st.success());
    // tcpdump on the lab's captures: the handshake, then the probes.
    for c in cmds.iter().filter(|c| c.starts_with("tcpdump ")) {
        let _ = doc_labs(); // the commands before it have run
        let out = Command::new("bash")
            .arg("-c")
            .arg(c)
            .current_dir(root())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("Flags [S]") && text.contains("Flags [S.]"),
            "{c}:\n{text}"
        );
    }
    // tc netem: runs where the kernel has sch_netem; here, it must fail for want of it.
    let tc: Vec<&String> = cmds.iter().filter(|c| c.starts_with("tc qdisc")).collect();
    assert_eq!(tc.len(), 2);
    let links = "ip link add r1 type veth peer name s0\nip link set r1 up\nip link set s0 up\n";
    for c in tc {
        let out = in_netns(&format!("{links}{c}"), 20);
        let err = String::from_utf8_lossy(&out.stderr);
        let netem = std::path::Path::new("/proc/net/psched").exists()
            && Command::new("modprobe")
                .args(["-n", "sch_netem"])
                .status()
                .is_ok_and(|s| s.success());
        if out.status.success() {
            println!("{c}: ran (this kernel has sch_netem)");
        } else {
            assert!(
                !netem && err.contains("qdisc kind is unknown"),
                "{c}: {err}"
            );
            println!("{c}: this kernel has no sch_netem ({})", err.trim());
        }
    }
    // The busy-gone pair of lines: the lab in the background, ss on its client's timers.
    let i = cmds
        .iter()
        .position(|c| c.contains("SCENARIO=busy-gone &"))
        .expect("the busy-gone lines");
    let script = format!("{}\n{}\nwait", cmds[i], cmds[i + 1]);
    assert!(script.contains("ss -tio"));
    let _ = doc_labs();
    let _one = LABS.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(root())
        .env("LAB_ROOT", extra_root())
        .env_remove("MAKEFLAGS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("timer:(on,"),
        "the retransmission timer, as LAB.md says:\n{text}"
    );
    assert!(
        text.contains("kaw    busy-gone") && text.contains(" ok "),
        "{text}"
    );
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux: a network namespace, gcc"
)]
fn exercise_11_against_the_article_c() {
    // The article's C is the article's: give its text as HB_ARTICLE (seed 000 saved as
    // text), else the team's copy beside the repository (../shared/seeds/000_*.txt), as
    // `make bench` finds it.
    let beside = std::fs::read_dir(root().join("../shared/seeds"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("000_"))
        });
    let Some(article) = std::env::var_os("HB_ARTICLE").or(beside.map(|p| p.into_os_string()))
    else {
        eprintln!("SKIPPED: exercise 11 needs the article (HB_ARTICLE=seed 000's text); not run");
        return;
    };
    let _ = full_lab(); // `make` has built the programs
    let doc = std::fs::read_to_string(root().join("docs/LAB.md")).unwrap();
    let (_, build) = blocks(&doc)
        .into_iter()
        .find(|(_, b)| b.contains("from-article.sh"))
        .unwrap();
    let (_, run) = blocks(&doc)
        .into_iter()
        .find(|(_, b)| b.contains("article-c/hb_client"))
        .unwrap();
    let _one = LABS.lock().unwrap_or_else(|e| e.into_inner());
    let copy = root().join("article.txt");
    std::fs::copy(&article, &copy).unwrap();
    // The C client runs until stopped (Ctrl-C, says LAB.md): the namespace ends at 12 s.
    let out = in_netns(&format!("exec 2>&1\n{build}{run}"), 12);
    let _ = std::fs::remove_file(&copy);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("built target/article-c/hb_client (T1=2, T2=1)"),
        "{text}"
    );
    let reads: Vec<f64> = stamped(&text)
        .into_iter()
        .filter(|(_, t)| t.starts_with("debug: read 2004 bytes"))
        .map(|(t, _)| t)
        .collect();
    assert!(reads.len() >= 3, "{text}");
    let gaps: Vec<f64> = reads.windows(2).map(|w| w[1] - w[0]).collect();
    // LAB.md: every 3 s, not every 2; the answer key's figure for T1 = 2.
    for g in &gaps {
        assert!((g - 3.0).abs() < 0.05, "{gaps:?}");
    }
    // LAB.md and answer 12: the exact 3 s window ends just before each C heartbeat arrives.
    let missed: Vec<f64> = stamped(&text)
        .into_iter()
        .filter(|(_, t)| t.ends_with("missed heartbeat #1"))
        .map(|(t, _)| t)
        .collect();
    assert!(
        reads[1..]
            .iter()
            .any(|r| missed.iter().any(|m| m <= r && r - m < 0.05)),
        "a missed heartbeat #1 just before a read: {missed:?} {reads:?}\n{text}"
    );
    let a = std::fs::read_to_string(root().join("docs/LAB-ANSWERS.md")).unwrap();
    let said: f64 = a
        .split("\n12. ")
        .nth(1)
        .unwrap()
        .split("measured ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        gaps.iter().any(|g| (g - said).abs() < 0.02),
        "answer 12 says {said}, the run {gaps:?}"
    );
}
