//! Reading the files a command is given (a maintenance file, `.env`), bounded: every file
//! cratectl reads itself goes through [`read_text`], so none can make it read without end.
//!
//! A path that is not a regular file (`/dev/zero`, a directory, a FIFO, a socket) is refused
//! before it is opened: opening a FIFO would block until a writer came, and a character device
//! may never end. A regular file larger than [`MAX_FILE_BYTES`] is refused by its size, and the
//! read itself stops one byte past the limit, so a file that grows while it is read, or one
//! whose reported size is wrong (`/proc`, network file systems), cannot exhaust memory either.
//!
//! Errors leave the caller to name the file ("cannot read maintenance configuration P: …");
//! I/O errors (a missing file, no permission) are passed through unchanged.

use std::fmt;
use std::fs::{self, File, FileType};
use std::io::{self, Read};
use std::path::Path;

/// The largest file a command reads: 1 MiB. A maintenance file or `.env` is a few kilobytes;
/// anything near this is not what the user meant to pass.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a file was not read.
#[derive(Debug)]
pub enum FileError {
    /// Not a regular file; `kind` says what it is ("a directory", "a character device").
    NotRegular { kind: &'static str },
    /// Larger than the limit; `size` is `None` when the size was only found out by reading
    /// (the file grew, or its metadata did not say).
    TooLarge { size: Option<u64>, limit: u64 },
    /// Reading failed, or the file is not UTF-8 text.
    Io(io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotRegular { kind } => write!(f, "not a regular file (it is {kind})"),
            FileError::TooLarge {
                size: Some(size),
                limit,
            } => write!(
                f,
                "is {} ({size} bytes); the limit is {} ({limit} bytes)",
                in_units(*size),
                in_units(*limit)
            ),
            FileError::TooLarge { size: None, limit } => write!(
                f,
                "holds more than {} ({limit} bytes), the limit",
                in_units(*limit)
            ),
            FileError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for FileError {
    fn from(e: io::Error) -> Self {
        FileError::Io(e)
    }
}

/// Reads the UTF-8 text of the regular file at `path`, at most [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, FileError> {
    read_text_limited(path, MAX_FILE_BYTES)
}

fn read_text_limited(path: &Path, limit: u64) -> Result<String, FileError> {
    // Follows symbolic links, as opening does; checked before opening (see the module doc).
    check(&fs::metadata(path)?, limit)?;
    let file = File::open(path)?;
    // The path may have been replaced between the two looks; the open file is what is read.
    check(&file.metadata()?, limit)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(FileError::TooLarge { size: None, limit });
    }
    String::from_utf8(bytes).map_err(|_| {
        FileError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

fn check(metadata: &fs::Metadata, limit: u64) -> Result<(), FileError> {
    if !metadata.is_file() {
        return Err(FileError::NotRegular {
            kind: kind_of(metadata.file_type()),
        });
    }
    if metadata.len() > limit {
        return Err(FileError::TooLarge {
            size: Some(metadata.len()),
            limit,
        });
    }
    Ok(())
}

fn kind_of(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "an unknown kind of file"
}

/// `bytes` in the largest binary unit that keeps it at least 1, with one decimal where it has
/// a fraction: "512 bytes", "3.2 MiB", "1 MiB".
fn in_units(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cratectl-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_small_file_is_read_whole() {
        let dir = scratch("small");
        let path = dir.join("m.toml");
        fs::write(&path, "[c]\nunrestricted = true\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "[c]\nunrestricted = true\n");
        let exact = dir.join("exact");
        fs::write(&exact, "x".repeat(16)).unwrap();
        assert_eq!(
            read_text_limited(&exact, 16).unwrap().len(),
            16,
            "the limit itself is fine"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn special_files_and_directories_are_refused_before_reading() {
        let dir = scratch("special");
        let error = read_text(&dir).unwrap_err();
        assert_eq!(error.to_string(), "not a regular file (it is a directory)");
        #[cfg(unix)]
        {
            let error = read_text(Path::new("/dev/zero")).unwrap_err();
            assert_eq!(error.to_string(), "not a regular file (it is a character device)");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_over_the_limit_is_refused_by_its_size() {
        let dir = scratch("large");
        let path = dir.join("big");
        fs::write(&path, "x".repeat(17)).unwrap();
        let error = read_text_limited(&path, 16).unwrap_err();
        assert!(
            matches!(
                error,
                FileError::TooLarge {
                    size: Some(17),
                    limit: 16
                }
            ),
            "{error:?}"
        );
        fs::write(&path, vec![b'x'; 3 * 1024 * 1024 + 200 * 1024]).unwrap();
        assert_eq!(
            read_text(&path).unwrap_err().to_string(),
            "is 3.2 MiB (3350528 bytes); the limit is 1 MiB (1048576 bytes)"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_says_it_is_empty_is_still_read_only_to_the_limit() {
        // /proc files report a size of 0 whatever they hold.
        let status = Path::new("/proc/self/status");
        if !status.exists() {
            return;
        }
        assert_eq!(fs::metadata(status).unwrap().len(), 0);
        let error = read_text_limited(status, 8).unwrap_err();
        assert!(
            matches!(error, FileError::TooLarge { size: None, limit: 8 }),
            "{error:?}"
        );
        assert!(read_text(status).unwrap().contains("Name:"));
    }

    #[test]
    fn a_missing_file_keeps_the_system_message_and_non_utf8_is_refused() {
        let dir = scratch("missing");
        let error = read_text(&dir.join("missing.toml")).unwrap_err();
        assert!(
            matches!(&error, FileError::Io(e) if e.kind() == io::ErrorKind::NotFound),
            "{error:?}"
        );
        let binary = dir.join("binary");
        fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert_eq!(
            read_text(&binary).unwrap_err().to_string(),
            "stream did not contain valid UTF-8"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(in_units(512), "512 bytes");
        assert_eq!(in_units(1024 * 1024), "1 MiB");
        assert_eq!(in_units(1024 * 1024 + 1), "1.0 MiB");
        assert_eq!(in_units(1536), "1.5 KiB");
        assert_eq!(in_units(5 * 1024 * 1024 * 1024), "5 GiB");
    }
}
