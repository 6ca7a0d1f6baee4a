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
//! servers also `--once`, `--max-clients N` and `--backlog N`, and where a program has them
//! `--reply-delay SECS`, `--user-timeout SECS`, `--on-dead CMD`, `--keepalive` (the OOB pair
//! has no `--idle`: Stevens' clock ticks every interval). A client's arguments are a
//! [`Client`], a server's a [`Server`]; [`Timing`] builds the monitor's [`Config`] for each
//! rule, so no program repeats it. A bad argument prints `PROG: problem` and a usage
//! line and exits 2. Logging (`RUST_LOG=debug` for the internal events) goes through
//! `env_logger` with the same `PROG: ` prefix, through [`crate::stderr`]'s queue like every
//! other line; the default level is `info`.

use crate::error;
use crate::keepalive::Settings;
use crate::monitor::{Config, Rule};
use std::io::Write;
use std::time::Duration;

/// Client (`HOST PORT`) or server (`PORT`, and `--once`, `--max-clients`, `--backlog`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Takes `HOST PORT`.
    Client,
    /// Takes `PORT` and the server options.
    Server,
}

/// The options a program takes beyond the common ones and, for servers, `--once`,
/// `--max-clients N`, `--backlog N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// `--reply-delay SECS`: wait before answering a heartbeat (seed 001's `sleepingTime`).
    ReplyDelay,
    /// `--user-timeout SECS`: `TCP_USER_TIMEOUT`.
    UserTimeout,
    /// `--on-dead CMD`: a command to run when the connection dies.
    OnDead,
    /// `--keepalive`: a server probes its clients with kernel keepalive too.
    Keepalive,
    /// `--write SECS[,BYTES]`: a client sends BYTES of data every SECS (a busy peer).
    Write,
}

/// What a program accepts: its name, kind, defaults, and extra options.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Program name, as in the usage line.
    pub name: &'static str,
    /// One line: what it is and which article it ports.
    pub about: &'static str,
    /// Client or server.
    pub kind: Kind,
    /// Default `--idle`, seconds; `None`: no `--idle` (the OOB pair).
    pub idle: Option<f64>,
    /// Default `--interval`, seconds.
    pub interval: f64,
    /// Default `--probes`.
    pub probes: u32,
    /// Timings in whole seconds only (the kernel keepalive options are integers).
    pub whole_seconds: bool,
    /// The extra options this program takes.
    pub extras: &'static [Extra],
    /// What a server does with clients beyond `--max-clients`, as `--help` says it.
    pub at_limit: &'static str,
}

impl Spec {
    /// Seed 000's in-band and separate-link programs: `T1 = 60`, `T2 = 10`, 3 probes.
    pub const fn seed000(name: &'static str, about: &'static str, kind: Kind) -> Spec {
        Spec {
            name,
            about,
            kind,
            idle: Some(60.0),
            interval: 10.0,
            probes: 3,
            whole_seconds: false,
            extras: &[],
            at_limit: "refuse clients beyond N at once",
        }
    }

    /// The OOB pair: Stevens' `heartbeat_cli(servfd, 1, 5)`: no idle, 1 s, 5 probes.
    pub const fn stevens(name: &'static str, about: &'static str, kind: Kind) -> Spec {
        Spec {
            idle: None,
            interval: 1.0,
            probes: 5,
            ..Spec::seed000(name, about, kind)
        }
    }

    /// Kernel keepalive: seed 000 §1's 60 / 5 / 3, whole seconds.
    pub const fn keepalive(name: &'static str, about: &'static str, kind: Kind) -> Spec {
        Spec {
            interval: 5.0,
            whole_seconds: true,
            ..Spec::seed000(name, about, kind)
        }
    }

    /// The same, with these extra options.
    pub const fn with(self, extras: &'static [Extra]) -> Spec {
        Spec { extras, ..self }
    }

    /// The same, saying `at_limit` for `--max-clients` in `--help`.
    pub const fn at_limit(self, at_limit: &'static str) -> Spec {
        Spec { at_limit, ..self }
    }
}

/// Default `--max-clients`.
pub const MAX_CLIENTS: usize = 1024;

/// `--idle`, `--interval`, `--probes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `T1` (zero where the program has no `--idle`).
    pub idle: Duration,
    /// `T2`.
    pub interval: Duration,
    /// The C's literal 3.
    pub probes: u32,
}

impl Timing {
    fn config(&self, rule: Rule) -> Config {
        Config {
            rule,
            interval: self.interval,
            probes: self.probes,
        }
    }

    /// The client's rule of seed 000.
    pub fn prober(&self) -> Config {
        self.config(Rule::Prober { idle: self.idle })
    }

    /// The server's rule of seed 000 (and, with no idle, `hb_server_oob`'s window).
    pub fn answerer(&self) -> Config {
        self.config(Rule::Answerer { idle: self.idle })
    }

    /// Stevens' ticking `alarm`.
    pub fn alarm(&self) -> Config {
        self.config(Rule::Alarm)
    }

    /// The same numbers as kernel keepalive settings.
    pub fn keepalive(&self) -> Settings {
        Settings {
            idle: self.idle,
            interval: self.interval,
            probes: self.probes,
        }
    }
}

/// A client's arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// HOST.
    pub host: String,
    /// PORT as given: a number 0–65535 or a service name known to `/etc/services`.
    pub port: String,
    /// The timings.
    pub timing: Timing,
    /// `-t`.
    pub timestamps: bool,
    /// `--user-timeout`.
    pub user_timeout: Option<Duration>,
    /// `--on-dead`.
    pub on_dead: Option<String>,
    /// `--write SECS[,BYTES]`: how often, and how many bytes (default 100).
    pub write: Option<(Duration, usize)>,
}

/// A server's arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    /// PORT as given.
    pub port: String,
    /// The timings.
    pub timing: Timing,
    /// `-t`.
    pub timestamps: bool,
    /// `--once`: serve one client, then exit with the C program's status.
    pub once: bool,
    /// `--max-clients`.
    pub max_clients: usize,
    /// `--backlog` (default 5, the C's `NLISTEN`).
    pub backlog: i32,
    /// `--reply-delay`.
    pub reply_delay: Option<Duration>,
    /// `--keepalive`.
    pub keepalive: bool,
    /// `--user-timeout`.
    pub user_timeout: Option<Duration>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Run a client with these arguments.
    Client(Client),
    /// Run a server with these arguments.
    Server(Server),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

impl Spec {
    /// `usage: hb_client [options] HOST PORT`.
    pub fn usage(&self) -> String {
        let pos = match self.kind {
            Kind::Client => "HOST PORT",
            Kind::Server => "PORT",
        };
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
        // Every description starts in column 26, as the fixed lines below.
        let option = |o: String, what: String| format!("  {o:<23} {what}\n");
        if let Some(idle) = self.idle {
            let what = format!("idle time before probing (default {idle})");
            h += &option(format!("--idle {unit}"), what);
        }
        let what = format!("time between probes (default {})", self.interval);
        h += &option(format!("--interval {unit}"), what);
        h += &format!(
            "  --probes N              unanswered probes before death (default {})\n",
            self.probes
        );
        if self.kind == Kind::Server {
            h += "  --once                  serve one client, then exit as the C server does\n";
            let what = format!("{} (default {MAX_CLIENTS})", self.at_limit);
            h += &option("--max-clients N".into(), what);
            h += "  --backlog N             listen backlog (default 5, the C's NLISTEN; raise it for a class)\n";
        }
        for e in self.extras {
            h += match e {
                Extra::ReplyDelay => "  --reply-delay SECS      wait before answering each heartbeat (a slow peer)\n",
                Extra::UserTimeout => "  --user-timeout SECS     TCP_USER_TIMEOUT (Linux): bound on unacknowledged data\n",
                Extra::OnDead => "  --on-dead CMD           run CMD (sh -c) when the connection dies; its status is ours\n",
                Extra::Keepalive => "  --keepalive             probe clients with kernel keepalive too (seed 001)\n",
                Extra::Write => "  --write SECS[,BYTES]    send BYTES (default 100) every SECS: a busy client\n",
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
        // Every option lands here; a client takes its share at the end.
        let mut srv = Server {
            port: String::new(),
            timing: Timing {
                idle: secs(self.idle.unwrap_or(0.0)),
                interval: secs(self.interval),
                probes: self.probes,
            },
            timestamps: false,
            once: false,
            max_clients: MAX_CLIENTS,
            backlog: crate::net::NLISTEN,
            reply_delay: None,
            keepalive: false,
            user_timeout: None,
        };
        let mut on_dead = None;
        let mut write = None;
        let mut positionals = Vec::new();
        let mut it = argv.into_iter();
        let mut only_positionals = false;
        let server = self.kind == Kind::Server;
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
            let whole = |v: String, what: &str| {
                v.parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("{opt} takes a positive whole number{what}, not '{v}'"))
            };
            match opt.as_str() {
                "--" => only_positionals = true,
                "-h" | "--help" => return Ok(Parsed::Help),
                "-V" | "--version" => return Ok(Parsed::Version),
                "-t" | "--timestamps" => srv.timestamps = true,
                "--idle" if self.idle.is_some() => {
                    srv.timing.idle = self.seconds(&opt, &value()?)?
                }
                "--interval" => srv.timing.interval = self.seconds(&opt, &value()?)?,
                "--probes" => {
                    let v = value()?;
                    srv.timing.probes = v.parse().map_err(|e: std::num::ParseIntError| match e
                        .kind()
                    {
                        std::num::IntErrorKind::PosOverflow => {
                            format!("--probes {v} is too large")
                        }
                        _ => format!("--probes takes a whole number, not '{v}'"),
                    })?;
                }
                "--once" if server => srv.once = true,
                "--max-clients" if server => srv.max_clients = whole(value()?, "")?,
                "--backlog" if server => {
                    let n = whole(value()?, " up to 2147483647")?;
                    srv.backlog = i32::try_from(n).map_err(|_| format!("{opt} is too large"))?;
                }
                "--reply-delay" if has(Extra::ReplyDelay) => {
                    srv.reply_delay = Some(self.seconds(&opt, &value()?)?)
                }
                "--user-timeout" if has(Extra::UserTimeout) => {
                    srv.user_timeout = Some(self.seconds(&opt, &value()?)?)
                }
                "--on-dead" if has(Extra::OnDead) => on_dead = Some(value()?),
                "--keepalive" if has(Extra::Keepalive) => srv.keepalive = true,
                "--write" if has(Extra::Write) => {
                    let v = value()?;
                    let (secs, bytes) = v.split_once(',').unwrap_or((&v, "100"));
                    let every = Duration::from_secs_f64(
                        secs.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1e9)
                            .ok_or_else(|| format!("--write takes SECS[,BYTES], not '{v}'"))?,
                    );
                    let n = whole(bytes.to_string(), " from 1 to 1048576")?;
                    if !(1..=1 << 20).contains(&n) {
                        return Err(format!("--write takes 1 to 1048576 bytes, not {n}"));
                    }
                    write = Some((every, n));
                }
                _ => return Err(format!("unknown option '{arg}'")),
            }
        }
        let mut positionals = positionals.into_iter();
        let host = match self.kind {
            Kind::Server => String::new(),
            Kind::Client => positionals.next().ok_or("missing argument HOST")?,
        };
        let port = positionals.next().ok_or("missing argument PORT")?;
        if let Some(extra) = positionals.next() {
            return Err(format!("unexpected argument '{extra}'"));
        }
        crate::net::parse_port(&port, "tcp").map_err(|e| e.to_string())?;
        if self.whole_seconds {
            kernel_limits(&srv.timing, srv.user_timeout)?;
        }
        srv.port = port;
        Ok(match self.kind {
            Kind::Server => Parsed::Server(srv),
            Kind::Client => Parsed::Client(Client {
                host,
                port: srv.port,
                timing: srv.timing,
                timestamps: srv.timestamps,
                user_timeout: srv.user_timeout,
                on_dead,
                write,
            }),
        })
    }
}

/// The kernel keepalive options as Linux takes them (`MAX_TCP_KEEPIDLE`, `MAX_TCP_KEEPINTVL`,
/// `MAX_TCP_KEEPCNT`, and `TCP_USER_TIMEOUT` in milliseconds in an `int`), so that a value
/// the kernel would refuse is a usage error naming the option, not a `setsockopt` failure
/// after connecting.
fn kernel_limits(t: &Timing, user_timeout: Option<Duration>) -> Result<(), String> {
    let secs = |d: Duration| d.as_secs();
    for (opt, value, most, name) in [
        ("--idle", secs(t.idle), 32767, "TCP_KEEPIDLE"),
        ("--interval", secs(t.interval), 32767, "TCP_KEEPINTVL"),
        ("--probes", u64::from(t.probes), 127, "TCP_KEEPCNT"),
    ] {
        if value == 0 || value > most {
            return Err(format!(
                "{opt} takes 1 to {most} here ({name}), not {value}"
            ));
        }
    }
    match user_timeout.map(secs) {
        Some(ut) if ut > i32::MAX as u64 / 1000 => Err(format!(
            "--user-timeout takes at most {} seconds (TCP_USER_TIMEOUT), not {ut}",
            i32::MAX / 1000
        )),
        _ => Ok(()),
    }
}

/// Start a program: parse `std::env::args`, print help or version (exit 0) or a usage
/// error (exit 2), set the program name and `-t` for [`crate::error`], set up logging.
#[doc(alias = "INIT")]
pub fn start(spec: &Spec) -> Parsed {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| spec.name.to_string());
    match spec.parse(argv) {
        Ok(
            run @ (Parsed::Client(Client { timestamps, .. })
            | Parsed::Server(Server { timestamps, .. })),
        ) => {
            error::init(&argv0, timestamps);
            init_logger();
            log::debug!(
                "clock zero at {:.6} s since the Unix epoch",
                error::clock_zero()
            );
            run
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
            let usage = format!("{}\nTry '{} --help' for more.\n", spec.usage(), spec.name);
            crate::stderr::last(usage.into_bytes());
            error::exit(2)
        }
    }
}

/// [`start`] for a client: its arguments.
pub fn client(spec: &Spec) -> Client {
    match start(spec) {
        Parsed::Client(a) => a,
        _ => panic!("{}: cli::client needs a Spec of Kind::Client", spec.name),
    }
}

/// [`start`] for a server: its arguments.
pub fn server(spec: &Spec) -> Server {
    match start(spec) {
        Parsed::Server(a) => a,
        _ => panic!("{}: cli::server needs a Spec of Kind::Server", spec.name),
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
    // Through stderr's one writer, in order with the `PROG: text` lines, never blocking.
    b.target(env_logger::Target::Pipe(Box::new(crate::stderr::Sink)));
    let _ = b.try_init();
}
