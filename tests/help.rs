//! `--help` reads as a table: every option's description starts in the same column.

mod common;

/// Where every description starts: after `  ` and an option padded to 23 characters.
const COLUMN: usize = 26;

/// The option lines of `help` whose description does not start at [`COLUMN`].
fn misaligned(help: &str) -> Vec<&str> {
    help.lines()
        .filter(|l| l.starts_with("  -"))
        .filter(|l| {
            let b = l.as_bytes();
            b.len() <= COLUMN || b[COLUMN - 1] != b' ' || b[COLUMN] == b' '
        })
        .collect()
}

#[test]
fn a_misaligned_help_is_caught() {
    let good = "options:\n  --idle SECS             a\n  -t, --timestamps        b\n";
    let bad = "options:\n  --idle SECS           a\n  -t, --timestamps        b\n";
    assert!(misaligned(good).is_empty());
    assert_eq!(misaligned(bad), ["  --idle SECS           a"]);
}

#[test]
fn every_program_aligns_its_help() {
    let progs = [
        "hb_client",
        "hb_server",
        "hb_client1",
        "hb_server1",
        "hb_client_oob",
        "hb_server_oob",
        "ka_client",
        "ka_server",
    ];
    for prog in progs {
        let out = std::process::Command::new(common::procs::bin(prog))
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let bad = misaligned(&text);
        assert!(
            bad.is_empty(),
            "{prog}: not at column {COLUMN}: {bad:?}:\n{text}"
        );
    }
}

/// `--max-clients` says what each server does at its limit: the others refuse newcomers,
/// `ka_server` turns away the connection idle longest (`heartbeat::held`).
#[test]
fn max_clients_says_what_each_server_does_at_its_limit() {
    for (prog, want, not) in [
        ("hb_server", "refuse clients beyond N", "idlest"),
        ("hb_server1", "refuse clients beyond N", "idlest"),
        ("hb_server_oob", "refuse clients beyond N", "idlest"),
        ("ka_server", "turn away the idlest", "refuse"),
    ] {
        let out = std::process::Command::new(common::procs::bin(prog))
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.contains("--max-clients"));
        let line = line.unwrap_or_else(|| panic!("{prog}: no --max-clients:\n{text}"));
        assert!(line.contains(want) && !line.contains(not), "{prog}: {line}");
    }
}
