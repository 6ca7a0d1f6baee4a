//! The soak's verdict, table and `target/soak.json`. The verdict is one function of a row,
//! so its self-test ([`self_test`], run before every soak) feeds it a row that passes and,
//! one falsification at a time, rows that must fail.

/// Resident memory may end this much above its start (KiB): see README "Soak". glibc keeps
/// what a thread freed in that thread's arena (up to 8 per core) and keeps the stacks of
/// ended threads in a cache (up to 40 MiB), so a server's RSS after a load need not return
/// to the byte; growth with the connections served would.
pub const RSS_SLACK_KIB: u64 = 2048;

#[derive(Clone, Default)]
pub struct Row {
    pub server: String,
    pub seconds: f64,
    pub honest: u64,
    pub echoes: u64,
    pub echo_bytes: u64,
    pub wrong: u64,
    /// Client side (the honest clients' own findings) and server side (its lines).
    pub false_deaths_client: u64,
    pub false_deaths_server: u64,
    pub late: u64,
    pub hostile: [u64; 7],
    pub hostile_failed: u64,
    pub floods_ended: u64,
    pub rss_cold: u64,
    pub rss_start: u64,
    pub rss_peak: u64,
    pub rss_end: u64,
    pub threads: (u64, u64, u64),
    pub fds: (u64, u64, u64),
    pub lines_dropped: u64,
    pub server_alive: bool,
    /// The first problems, word for word (client findings, then server lines).
    pub problems: Vec<String>,
    /// The server's endings of hostile connections, by what it said.
    pub hostile_endings: Vec<(String, u64)>,
    pub falsified: Vec<String>,
    /// Seconds of the same mix before the start was measured.
    pub warm: f64,
    /// (seconds into the soak, RSS KiB, threads, fds), every 30 s.
    pub samples: Vec<(f64, u64, u64, u64)>,
}

impl Row {
    pub fn false_deaths(&self) -> u64 {
        self.false_deaths_client + self.false_deaths_server
    }
    pub fn hostile_total(&self) -> u64 {
        self.hostile.iter().sum()
    }
}

/// Why `r` fails; empty when it passes.
pub fn verdict(r: &Row) -> Vec<String> {
    let mut why = Vec::new();
    let mut fail = |bad: bool, s: String| {
        if bad {
            why.push(s)
        }
    };
    fail(
        !r.server_alive,
        "the server is not running at the end".into(),
    );
    fail(r.honest == 0, "no honest connection was made".into());
    fail(r.echoes == 0, "no echo was checked".into());
    fail(r.wrong > 0, format!("{} echoes wrong or missing", r.wrong));
    fail(
        r.false_deaths() > 0,
        format!("{} false deaths", r.false_deaths()),
    );
    fail(
        r.hostile_total() == 0,
        "no hostile connection was made".into(),
    );
    fail(
        r.rss_end > r.rss_start + RSS_SLACK_KIB,
        format!(
            "RSS {} KiB at the end, over start {} + {RSS_SLACK_KIB} KiB",
            r.rss_end, r.rss_start
        ),
    );
    fail(
        r.threads.2 != r.threads.0,
        format!(
            "threads {} at the start, {} at the end",
            r.threads.0, r.threads.2
        ),
    );
    fail(
        r.fds.2 != r.fds.0,
        format!("fds {} at the start, {} at the end", r.fds.0, r.fds.2),
    );
    fail(
        r.lines_dropped > 0,
        format!("the server dropped {} lines: unchecked", r.lines_dropped),
    );
    why
}

/// The checker against falsified rows: the honest row passes, each falsified one fails.
/// Returns the number of falsified rows caught, or what the checker missed.
pub fn self_test() -> Result<usize, String> {
    let good = Row {
        server: "self-test".into(),
        honest: 10,
        echoes: 100,
        hostile: [1; 7],
        rss_start: 3000,
        rss_peak: 9000,
        rss_end: 3000 + RSS_SLACK_KIB,
        threads: (2, 40, 2),
        fds: (4, 90, 4),
        server_alive: true,
        ..Row::default()
    };
    if !verdict(&good).is_empty() {
        return Err(format!("an honest row fails: {:?}", verdict(&good)));
    }
    type Falsify = Box<dyn Fn(&mut Row)>;
    let falsified: Vec<(&str, Falsify)> = vec![
        ("a wrong echo", Box::new(|r| r.wrong = 1)),
        (
            "a client's false death",
            Box::new(|r| r.false_deaths_client = 1),
        ),
        (
            "a server's false death",
            Box::new(|r| r.false_deaths_server = 1),
        ),
        ("RSS 1 KiB past the slack", Box::new(|r| r.rss_end += 1)),
        ("a thread kept", Box::new(|r| r.threads.2 += 1)),
        ("a descriptor kept", Box::new(|r| r.fds.2 += 1)),
        ("no echo checked", Box::new(|r| r.echoes = 0)),
        ("no hostile client", Box::new(|r| r.hostile = [0; 7])),
        ("lines dropped", Box::new(|r| r.lines_dropped = 1)),
        ("the server gone", Box::new(|r| r.server_alive = false)),
    ];
    for (what, f) in &falsified {
        let mut r = good.clone();
        f(&mut r);
        if verdict(&r).is_empty() {
            return Err(format!("a row with {what} passes"));
        }
    }
    Ok(falsified.len())
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

pub fn print(rows: &[Row]) {
    println!(
        "\n{:<13} {:>4} {:>6} {:>7} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} {:>6} {:>6}  {:<16} {:>7} {:>7}  verdict",
        "server", "min", "honest", "echoes", "wrong", "false",
        "silent", "close", "reset", "garbage", "flood", "halfcl", "badport",
        "RSS MiB s/pk/end", "threads", "fds"
    );
    for r in rows {
        let why = verdict(r);
        let h = |i: usize| r.hostile[i].to_string();
        println!(
            "{:<13} {:>4.1} {:>6} {:>7} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} {:>6} {:>6}  {:<16} {:>7} {:>7}  {}",
            r.server,
            r.seconds / 60.0,
            r.honest,
            r.echoes,
            r.wrong,
            r.false_deaths(),
            h(0), h(1), h(2), h(3), h(4), h(5), h(6),
            format!("{}/{}/{}", mib(r.rss_start), mib(r.rss_peak), mib(r.rss_end)),
            format!("{}/{}", r.threads.0, r.threads.2),
            format!("{}/{}", r.fds.0, r.fds.2),
            if why.is_empty() { "PASS".to_string() } else { format!("FAIL: {}", why.join("; ")) },
        );
    }
    println!();
    for r in rows {
        println!(
            "{}: {} bytes of echo compared; {} late answers (a 2nd probe sent, not a death); {} floods ended by the server, {} hostile connects failed; peak threads {}, fds {}; RSS cold {} KiB",
            r.server, r.echo_bytes, r.late, r.floods_ended, r.hostile_failed, r.threads.1, r.fds.1, r.rss_cold
        );
        let ends: Vec<String> = r
            .hostile_endings
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("  server's endings of hostile clients: {}", ends.join(", "));
        let rss: Vec<String> = r
            .samples
            .iter()
            .map(|(t, k, th, fd)| format!("{t:.0}s {} MiB {th}t {fd}f", mib(*k)))
            .collect();
        println!("  every 30 s under load: {}", rss.join(", "));
        for p in &r.problems {
            println!("  problem: {p}");
        }
        for f in &r.falsified {
            println!("  FALSIFIED ON PURPOSE: {f}");
        }
    }
}

pub fn write(rows: &[Row], path: &str, settings: &[(String, String)]) {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let list = |v: &[String]| {
        let q: Vec<String> = v.iter().map(|s| format!("\"{}\"", esc(s))).collect();
        format!("[{}]", q.join(", "))
    };
    let kinds = crate::tally::KINDS;
    let json_rows: Vec<String> = rows
        .iter()
        .map(|r| {
            let hostile: Vec<String> = kinds
                .iter()
                .map(|k| format!("\"{}\": {}", k.name(), r.hostile[k.index()]))
                .collect();
            let ends: Vec<String> = r
                .hostile_endings
                .iter()
                .map(|(k, n)| format!("\"{}\": {n}", esc(k)))
                .collect();
            let why: Vec<String> = verdict(r);
            let samples: Vec<String> = r
                .samples
                .iter()
                .map(|(t, k, th, fd)| {
                    format!("{{\"t\": {t:.0}, \"rss_kib\": {k}, \"threads\": {th}, \"fds\": {fd}}}")
                })
                .collect();
            format!(
                "    {{\"server\": \"{}\", \"seconds\": {:.1}, \"honest_connections\": {}, \"echoes_checked\": {}, \"echo_bytes\": {}, \"wrong_echoes\": {}, \"false_deaths_client\": {}, \"false_deaths_server\": {}, \"late_answers\": {}, \"hostile\": {{{}}}, \"hostile_connect_failed\": {}, \"floods_ended_by_server\": {}, \"hostile_endings\": {{{}}}, \"rss_kib\": {{\"cold\": {}, \"start\": {}, \"peak\": {}, \"end\": {}, \"slack\": {RSS_SLACK_KIB}}}, \"threads\": {{\"start\": {}, \"peak\": {}, \"end\": {}}}, \"fds\": {{\"start\": {}, \"peak\": {}, \"end\": {}}}, \"lines_dropped\": {}, \"problems\": {}, \"falsified\": {}, \"warm_seconds\": {:.0}, \"samples\": [{}], \"pass\": {}, \"why\": {}}}",
                esc(&r.server), r.seconds, r.honest, r.echoes, r.echo_bytes, r.wrong,
                r.false_deaths_client, r.false_deaths_server, r.late, hostile.join(", "),
                r.hostile_failed, r.floods_ended, ends.join(", "), r.rss_cold, r.rss_start,
                r.rss_peak, r.rss_end, r.threads.0, r.threads.1, r.threads.2, r.fds.0, r.fds.1,
                r.fds.2, r.lines_dropped, list(&r.problems), list(&r.falsified), r.warm, samples.join(", "), why.is_empty(),
                list(&why)
            )
        })
        .collect();
    let sets: Vec<String> = settings
        .iter()
        .map(|(k, v)| format!("    \"{}\": \"{}\"", esc(k), esc(v)))
        .collect();
    let json = format!(
        "{{\n  \"settings\": {{\n{}\n  }},\n  \"rows\": [\n{}\n  ]\n}}\n",
        sets.join(",\n"),
        json_rows.join(",\n")
    );
    let _ = std::fs::create_dir_all("target");
    match std::fs::write(path, json) {
        Ok(()) => eprintln!("wrote {path}"),
        Err(e) => eprintln!("soak: cannot write {path}: {e}"),
    }
}
