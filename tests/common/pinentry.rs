//! A stand-in for the holder at a pinentry dialog: a small sh script that speaks the pinentry
//! (Assuan) protocol as GnuPG's pinentry programs do, logs each command it receives, and
//! answers GETPIN with the PIN in a file — or cancels when the file says `cancel`. Only the
//! human is replaced: melli spawns it and talks to it as it would to pinentry-gnome3.

use std::path::{Path, PathBuf};

/// A test pinentry in `dir`: `pinentry` (the program), `pin` (its answer), `log` (what it
/// was told).
pub struct TestPinentry {
    dir: PathBuf,
}

const SCRIPT: &str = r##"#!/bin/sh
# A pinentry for tests: the answer to GETPIN is the file "pin" beside this script.
here=$(dirname "$0")
echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$here/log"
  case "$line" in
    GETPIN)
      answer=$(cat "$here/pin")
      if [ "$answer" = cancel ]; then
        echo "ERR 83886179 Operation cancelled <Pinentry>"
      else
        printf 'D %s\n' "$answer"
        echo OK
      fi ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    *) echo OK ;;
  esac
done
"##;

impl TestPinentry {
    /// Writes the script into `dir` (created if needed), answering `pin`.
    pub fn new(dir: &Path, pin: &str) -> TestPinentry {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).expect("pinentry dir");
        let program = dir.join("pinentry");
        std::fs::write(&program, SCRIPT).expect("write the test pinentry");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the test pinentry");
        let entry = TestPinentry {
            dir: dir.to_path_buf(),
        };
        entry.answer(pin);
        entry
    }

    /// The program to give melli.
    pub fn program(&self) -> PathBuf {
        self.dir.join("pinentry")
    }

    /// What GETPIN answers from now on (`cancel` to cancel).
    pub fn answer(&self, pin: &str) {
        std::fs::write(self.dir.join("pin"), pin).expect("write the PIN file");
    }

    /// The commands received so far, one per line.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The SETDESC lines received so far, as sent (percent-escaped).
    pub fn descriptions(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.strip_prefix("SETDESC "))
            .map(str::to_string)
            .collect()
    }
}
