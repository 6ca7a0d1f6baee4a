//! The article's own C programs, built at bench time from the article's text (seed 000),
//! never kept in the project: `ARTICLE=PATH` names the text, else `../shared/seeds/000_*.txt`
//! beside the project is used. The build is the lab's, `lab/from-article.sh ARTICLE DIR T1
//! T2` (it cuts the C files out of the article, makes its quotes plain, puts `T1` and `T2`
//! in place of the article's `#define`s and compiles with gcc), into
//! `target/article-c/T1-T2/`: one way to build the article's C, for the lab and the bench.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The article's programs the bench runs.
const PROGRAMS: [&str; 4] = ["hb_client", "hb_server", "hb_client1", "hb_server1"];

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

/// Build the article's four programs with `T1`, `T2`: the folder holding them.
pub fn build(t1: u32, t2: u32) -> Result<PathBuf, String> {
    let article = article()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = crate::common::bin("article-c").join(format!("{t1}-{t2}"));
    let out = Command::new("bash")
        .current_dir(root)
        .arg(root.join("lab/from-article.sh"))
        .arg(&article)
        .arg(&dir)
        .args([t1.to_string(), t2.to_string()])
        .output()
        .map_err(|e| format!("bash lab/from-article.sh: {e}"))?;
    let missing: Vec<&str> = PROGRAMS
        .into_iter()
        .filter(|p| !dir.join(p).is_file())
        .collect();
    if !out.status.success() || !missing.is_empty() {
        return Err(format!(
            "lab/from-article.sh ({}) did not build {missing:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(dir)
}
