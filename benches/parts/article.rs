//! The article's own C programs, built at bench time from the article's text (seed 000),
//! never kept in the project: `ARTICLE=PATH` names the text, else `../shared/seeds/000_*.txt`
//! beside the project is used. Its C files follow banner lines such as
//! `/*****hb_client.c*****/`; each runs to the next banner, or (for a `.c`) to the last
//! closing brace before the article's prose goes on. Typographic quotes and non-breaking
//! spaces, which a web page puts into code, are made plain. `T1` and `T2` replace the
//! article's `#define`s (the C's windows are whole seconds: `tv.tv_sec = T1`). Built with
//! the system's `cc` into `target/article-c/T1-T2/`, as `common::cc` builds benches/c;
//! `readn.c` uses `error(3)` without `<error.h>`, so it gets `-include error.h`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The article's text, or why there is none.
fn article() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ARTICLE") {
        return Ok(PathBuf::from(p));
    }
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds");
    let found = std::fs::read_dir(&seeds).ok().and_then(|d| {
        d.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("000_"))
        })
    });
    found.ok_or_else(|| "no article: set ARTICLE=seed-000.txt".to_string())
}

/// Whether `line` is a banner `/*****NAME*****/`; the file's name if so.
fn banner(line: &str) -> Option<String> {
    let t = line.trim_end();
    let inner = t.strip_prefix("/****")?.strip_suffix("****/")?;
    let name = inner.trim_matches('*');
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then(|| {
        if name.ends_with(".c") || name.ends_with(".h") {
            name.to_string()
        } else {
            format!("{name}.c")
        }
    })
}

/// The files of the article: (name, text).
pub fn files(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, Vec<&str>)> = None;
    let flush = |cur: &mut Option<(String, Vec<&str>)>, out: &mut Vec<(String, String)>| {
        if let Some((name, mut lines)) = cur.take() {
            if name.ends_with(".c") {
                while lines.last().is_some_and(|l| !l.starts_with('}')) {
                    lines.pop();
                }
            }
            let body = lines.join("\n") + "\n";
            let plain = body
                .replace('\u{a0}', " ")
                .replace(['“', '”'], "\"")
                .replace(['‘', '’'], "'");
            out.push((name, plain));
        }
    };
    for line in text.lines() {
        if let Some(name) = banner(line) {
            flush(&mut cur, &mut out);
            cur = Some((name, Vec::new()));
        } else if line.contains("Makefile") || line.starts_with("带外数据") {
            flush(&mut cur, &mut out);
        } else if let Some((_, lines)) = cur.as_mut() {
            lines.push(line);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Build the article's four programs with `T1`, `T2`: the folder holding them.
pub fn build(t1: u32, t2: u32) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(article()?).map_err(|e| format!("article: {e}"))?;
    let dir = crate::common::bin("article-c").join(format!("{t1}-{t2}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, mut body) in files(&text) {
        if name == "readn.h" {
            body = body
                .lines()
                .map(
                    |l| match l.split_whitespace().take(2).collect::<Vec<_>>()[..] {
                        ["#define", "T1"] => format!("#define T1 {t1}"),
                        ["#define", "T2"] => format!("#define T2 {t2}"),
                        _ => l.to_string(),
                    },
                )
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
        }
        std::fs::write(dir.join(&name), body).map_err(|e| e.to_string())?;
    }
    let cc = |args: &[&str]| {
        Command::new("cc")
            .current_dir(&dir)
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !cc(&[
        "-w", "-c", "readn.c", "-include", "error.h", "-o", "readn.o",
    ]) {
        return Err("cc readn.c failed".into());
    }
    for p in ["hb_client", "hb_server", "hb_client1", "hb_server1"] {
        if !cc(&["-w", &format!("{p}.c"), "readn.o", "-o", p]) {
            return Err(format!("cc {p}.c failed"));
        }
    }
    Ok(dir)
}
