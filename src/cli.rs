//! Argument parsing and start-up shared by every program: the C `INIT()` macro and
//! `argv[1]`, `argv[2]` of seed 000's `main`s, plus the options the port adds.
//!
//! The C programs take their positional arguments unchecked (`hb_client` with no arguments
//! dereferences `argv[1] == NULL`) and compile their timings in (`T1 = 60`, `T2 = 10`, three
//! probes). Here every program takes the article's positionals and:
//!
//! ```text
//! --idle SECS       T1, idle time before the first heartbeat (decimals allowed: 0.25)
//! --interval SECS   T2, time between heartbeats / to wait for an answer
//! --probes N        heartbeats without an answer before the connection is dead
//! -t, --timestamps  prefix each line with seconds since start, for measuring detection
//! -h, --help        -V, --version
//! ```
//!
//! and, where a program has them, `--once`, `--max-clients N`, `--reply-delay SECS`,
//! `--user-timeout SECS`, `--on-dead CMD`. A bad argument prints `PROG: problem` and a usage
//! line and exits 2. Logging (`RUST_LOG=debug` for the internal events) goes through
//! `env_logger` with the same `PROG: ` prefix; the default level is `info`.

use crate::error;
use std::io::Write;
use std::time::Duration;

/// The options a program takes beyond the common ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// `--once`: serve one client, then exit with the C program's status.
    Once,
    /// `--max-clients N`: bound on concurrent clients.
    MaxClients,
    /// `--reply-delay SECS`: wait before answering a heartbeat (seed 001's `sleepingTime`).
    ReplyDelay,
    /// `--user-timeout SECS`: `TCP_USER_TIMEOUT`.
    UserTimeout,
    /// `--on-dead CMD`: a command to run when the connection dies.
    OnDead,
    /// `--keepalive`: a server probes its clients with kernel keepalive too.
    Keepalive,
    /// `--backlog N`: the listen backlog (default 5, the C's `NLISTEN`).
    Backlog,
}

/// What a program accepts: its name, positionals, defaults, and extra options.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Program name, as in the usage line.
    pub name: &'static str,
    /// One line: what it is and which article it ports.
    pub about: &'static str,
    /// `true` for `HOST PORT` (clients), `false` for `PORT` (servers).
    pub takes_host: bool,
    /// Whether `--idle` applies (the OOB programs probe on a fixed clock and have none).
    pub takes_idle: bool,
    /// Default `--idle`, seconds.
    pub idle: f64,
    /// Default `--interval`, seconds.
    pub interval: f64,
    /// Default `--probes`.
    pub probes: u32,
    /// Timings in whole seconds only (the kernel keepalive options are integers).
    pub whole_seconds: bool,
    /// The extra options this program takes.
    pub extras: &'static [Extra],
}

/// Default `--max-clients`.
pub const MAX_CLIENTS: usize = 1024;

/// Parsed arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// HOST, for clients.
    pub host: Option<String>,
    /// PORT as given: a number 0–65535 or a service name known to `/etc/services`.
    pub port: String,
    /// `--idle`.
    pub idle: Duration,
    /// `--interval`.
    pub interval: Duration,
    /// `--probes`.
    pub probes: u32,
    /// `-t`.
    pub timestamps: bool,
    /// `--once`.
    pub once: bool,
    /// `--max-clients`.
    pub max_clients: usize,
    /// `--reply-delay`.
    pub reply_delay: Option<Duration>,
    /// `--user-timeout`.
    pub user_timeout: Option<Duration>,
    /// `--on-dead`.
    pub on_dead: Option<String>,
    /// `--keepalive`.
    pub keepalive: bool,
    /// `--backlog`.
    pub backlog: i32,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Run with these arguments.
    Run(Args),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

impl Spec {
    /// `usage: hb_client [options] HOST PORT`.
    pub fn usage(&self) -> String {
        let pos = if self.takes_host { "HOST PORT" } else { "PORT" };
        format!("usage: {} [options] {pos}", self.name)
    }

    /// The `--help` text.
    pub fn help(&self) -> String {
        let unit = if self.whole_seconds {
            "SECS (whole)"
        } else {
            "SECS"
        };
        let mut h = format!("{}\n{}\n\noptions:\n", self.usage(), self.about);
        if self.takes_idle {
            h += &format!(
                "  --idle {unit:<14} idle time before probing (default {})\n",
                self.idle
            );
        }
        h += &format!(
            "  --interval {unit:<10} time between probes (default {})\n",
            self.interval
        );
        h += &format!(
            "  --probes N              unanswered probes before death (default {})\n",
            self.probes
        );
        for e in self.extras {
            h += match e {
                Extra::Once => "  --once                  serve one client, then exit as the C server does\n",
                Extra::MaxClients => "  --max-clients N         refuse clients beyond N at once (default 1024)\n",
                Extra::ReplyDelay => "  --reply-delay SECS      wait before answering each heartbeat (a slow peer)\n",
                Extra::UserTimeout => "  --user-timeout SECS     TCP_USER_TIMEOUT (Linux): bound on unacknowledged data\n",
                Extra::OnDead => "  --on-dead CMD           run CMD (sh -c) when the connection dies; its status is ours\n",
                Extra::Keepalive => "  --keepalive             probe clients with kernel keepalive too (seed 001)\n",
                Extra::Backlog => "  --backlog N             listen backlog (default 5, the C's NLISTEN; raise it for a class)\n",
            };
        }
        h += "  -t, --timestamps        prefix each line with seconds since start\n";
        h += "  -h, --help              this text\n  -V, --version           the version\n";
        h += "\nRUST_LOG=debug shows the internal events (bytes read, timers, threads).\n";
        h
    }

    fn seconds(&self, opt: &str, v: &str) -> Result<Duration, String> {
        let bad = || format!("{opt} takes a positive number of seconds, not '{v}'");
        let s: f64 = v.trim().parse().map_err(|_| bad())?;
        if !s.is_finite() || s <= 0.0 || s > 1e9 {
            return Err(bad());
        }
        if self.whole_seconds && s.fract() != 0.0 {
            return Err(format!("{opt} takes whole seconds here, not '{v}'"));
        }
        Ok(Duration::from_secs_f64(s))
    }

    /// Parse the arguments after the program name.
    pub fn parse<I: IntoIterator<Item = String>>(&self, argv: I) -> Result<Parsed, String> {
        let secs = |s: f64| Duration::from_secs_f64(s);
        let mut a = Args {
            host: None,
            port: String::new(),
            idle: secs(self.idle),
            interval: secs(self.interval),
            probes: self.probes,
            timestamps: false,
            once: false,
            max_clients: MAX_CLIENTS,
            reply_delay: None,
            user_timeout: None,
            on_dead: None,
            keepalive: false,
            backlog: crate::net::NLISTEN,
        };
        let mut positionals = Vec::new();
        let mut it = argv.into_iter();
        let mut only_positionals = false;
        while let Some(arg) = it.next() {
            if only_positionals || !arg.starts_with('-') || arg == "-" {
                positionals.push(arg);
                continue;
            }
            let (opt, inline) = match arg.split_once('=') {
                Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let has = |e: Extra| self.extras.contains(&e);
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{opt} needs a value"))
            };
            match opt.as_str() {
                "--" => only_positionals = true,
                "-h" | "--help" => return Ok(Parsed::Help),
                "-V" | "--version" => return Ok(Parsed::Version),
                "-t" | "--timestamps" => a.timestamps = true,
                "--idle" if self.takes_idle => a.idle = self.seconds(&opt, &value()?)?,
                "--interval" => a.interval = self.seconds(&opt, &value()?)?,
                "--probes" => {
                    let v = value()?;
                    a.probes = v
                        .parse()
                        .map_err(|_| format!("--probes takes a whole number, not '{v}'"))?;
                }
                "--once" if has(Extra::Once) => a.once = true,
                "--max-clients" if has(Extra::MaxClients) => {
                    let v = value()?;
                    a.max_clients = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--max-clients takes a positive whole number, not '{v}'")
                    })?;
                }
                "--reply-delay" if has(Extra::ReplyDelay) => {
                    a.reply_delay = Some(self.seconds(&opt, &value()?)?)
                }
                "--user-timeout" if has(Extra::UserTimeout) => {
                    a.user_timeout = Some(self.seconds(&opt, &value()?)?)
                }
                "--on-dead" if has(Extra::OnDead) => a.on_dead = Some(value()?),
                "--keepalive" if has(Extra::Keepalive) => a.keepalive = true,
                "--backlog" if has(Extra::Backlog) => {
                    let v = value()?;
                    a.backlog = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--backlog takes a positive whole number, not '{v}'")
                    })?;
                }
                _ => return Err(format!("unknown option '{arg}'")),
            }
        }
        let wanted = if self.takes_host { 2 } else { 1 };
        if positionals.len() < wanted {
            let missing = if self.takes_host && positionals.is_empty() {
                "HOST"
            } else {
                "PORT"
            };
            return Err(format!("missing argument {missing}"));
        }
        if positionals.len() > wanted {
            return Err(format!("unexpected argument '{}'", positionals[wanted]));
        }
        let port = positionals.pop().unwrap_or_default(); // len == wanted >= 1
        crate::net::parse_port(&port, "tcp").map_err(|e| e.to_string())?;
        a.port = port;
        a.host = positionals.pop();
        Ok(Parsed::Run(a))
    }
}

/// Start a program: parse `std::env::args`, print help or version (exit 0) or a usage
/// error (exit 2), set the program name and `-t` for [`crate::error`], set up logging.
#[doc(alias = "INIT")]
pub fn start(spec: &Spec) -> Args {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| spec.name.to_string());
    match spec.parse(argv) {
        Ok(Parsed::Run(a)) => {
            error::init(&argv0, a.timestamps);
            init_logger();
            a
        }
        Ok(Parsed::Help) => {
            print!("{}", spec.help());
            std::process::exit(0)
        }
        Ok(Parsed::Version) => {
            println!("{} (heartbeat) {}", spec.name, env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        Err(problem) => {
            error::init(&argv0, false);
            error::say(&problem);
            eprintln!("{}\nTry '{} --help' for more.", spec.usage(), spec.name);
            std::process::exit(2)
        }
    }
}

/// `env_logger` at level `info` unless `RUST_LOG` says otherwise; each record is printed
/// as `PROG: LEVEL: text`, with the `-t` prefix when it is on.
pub fn init_logger() {
    let mut b = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    b.format(|out, rec| {
        let level = rec.level().as_str().to_ascii_lowercase();
        writeln!(out, "{}{level}: {}", error::prefix(), rec.args())
    });
    let _ = b.try_init();
}
