//! `cratectl completion SHELL`: a script for each shell, generated from the command-line
//! definition (so it knows every command and flag), that the shell itself accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn completion(shell: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cratectl"))
        .args(["completion", shell])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

#[test]
fn every_shell_gets_a_script_that_knows_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = completion(shell);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["suspend", "resume", "restore", "token-command", "dry-run"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let out = completion("tcsh");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: bash, zsh, fish, powershell"));
}

#[test]
fn bash_loads_the_script_and_completes_a_subcommand() {
    let script = String::from_utf8(completion("bash").stdout).unwrap();
    let dir = std::env::temp_dir().join(format!("cratectl-completion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cratectl.bash");
    std::fs::write(&path, script).unwrap();
    // What bash offers after `cratectl sus<TAB>`.
    let probe = format!(
        "source {}; COMP_WORDS=(cratectl sus); COMP_CWORD=1; _cratectl cratectl sus cratectl; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "suspend");
}
