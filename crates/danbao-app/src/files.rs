//! A content-addressed store for evidence attachments (SPEC §11): a file is named by its
//! SHA-256, a hash the client claims is checked, its size is bounded, and its media type
//! is sniffed from its bytes — never taken from the client.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The largest attachment accepted: a screenshot or a short screen recording.
pub const FILE_BYTES_MAX: usize = 10 * 1024 * 1024;

/// What evidence may be: pictures, PDFs, short videos and plain text.
const ALLOWED_MEDIA_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "video/mp4",
    "text/plain",
];

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the file's SHA-256 is {actual}, not the {claimed} that was sent with it")]
    HashMismatch { claimed: String, actual: String },
    #[error("files of type {0} are not accepted as evidence")]
    MediaType(String),
    #[error("cannot store the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the stored file {0} no longer matches its name")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredFile {
    pub sha256: String,
    pub media_type: String,
    pub size: u64,
}

pub struct FileStore {
    root: PathBuf,
}

/// The media type as the bytes say; `application/octet-stream` when they say nothing.
pub fn sniff(bytes: &[u8]) -> String {
    match infer::get(bytes) {
        Some(t) => t.mime_type().to_string(),
        None if std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0) => "text/plain".to_string(),
        None => "application/octet-stream".to_string(),
    }
}

impl FileStore {
    pub fn open(root: &Path) -> Result<FileStore, FileError> {
        std::fs::create_dir_all(root)?;
        Ok(FileStore {
            root: root.to_path_buf(),
        })
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores the bytes (once: the same content is one file) and says what they are.
    pub fn put(&self, bytes: &[u8], claimed_sha256: Option<&str>) -> Result<StoredFile, FileError> {
        if bytes.is_empty() {
            return Err(FileError::Empty);
        }
        if bytes.len() > FILE_BYTES_MAX {
            return Err(FileError::TooLarge {
                size: bytes.len(),
                max: FILE_BYTES_MAX,
            });
        }
        let actual = hex::encode(Sha256::digest(bytes));
        if let Some(claimed) = claimed_sha256 {
            if !claimed.eq_ignore_ascii_case(&actual) {
                return Err(FileError::HashMismatch {
                    claimed: claimed.to_string(),
                    actual,
                });
            }
        }
        let media_type = sniff(bytes);
        if !ALLOWED_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(FileError::MediaType(media_type));
        }
        let path = self
            .path_of(&actual)
            .ok_or_else(|| FileError::Corrupt(actual.clone()))?;
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Write aside and rename, so a crash never leaves a half file under the name.
            let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(StoredFile {
            sha256: actual,
            media_type,
            size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        })
    }

    /// The file's bytes, checked against its name on the way out.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, FileError> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                if hex::encode(Sha256::digest(&bytes)) != sha256 {
                    return Err(FileError::Corrupt(sha256.to_string()));
                }
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// How evidence pictures are hashed: image_hasher's median hash over the DCT (
/// pHash), 8×8 = 64 bits. Stored beside each hash, so hashes made another way are never
/// compared with these.
pub const PICTURE_HASH_ALGORITHM: &str = "phash-dct-median-8x8";

/// Two pictures whose hashes differ in at most this many of the 64 bits are the same
/// picture, re-saved, re-compressed or resized (re-compressing a screenshot as JPEG moved
/// up to 6 bits in the tests; unrelated pictures differ in about 32). At most 7, so that
/// the eight one-byte bands the store indexes find every such match.
pub const PICTURE_HASH_DISTANCE_MAX: u32 = 7;

/// The largest picture decoded for hashing (a long scrolling screenshot fits); larger
/// ones are not hashed. The memory bound keeps a small file that claims a huge picture
/// (a decompression bomb) from taking the server's memory.
const PICTURE_WIDTH_MAX: u32 = 4096;
const PICTURE_HEIGHT_MAX: u32 = 16_384;
const PICTURE_DECODE_BYTES_MAX: u64 = 128 * 1024 * 1024;

/// A picture's perceptual hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureHash(pub u64);

impl PictureHash {
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    pub fn from_hex(text: &str) -> Option<PictureHash> {
        u64::from_str_radix(text, 16).ok().map(PictureHash)
    }

    /// The 64 bits as eight bytes, each keyed by its place (place × 256 + byte): what the
    /// store indexes. Two hashes within distance 7 share at least one key.
    pub fn band_keys(self) -> Vec<i64> {
        self.0
            .to_be_bytes()
            .iter()
            .zip(0i64..)
            .map(|(b, place)| place * 256 + i64::from(*b))
            .collect()
    }

    pub fn distance(self, other: PictureHash) -> u32 {
        (self.0 ^ other.0).count_ones()
    }
}

/// The perceptual hash of a picture file; `None` for anything that is not a picture this
/// build decodes (a PDF, a video, text, a broken or oversized image): those are simply
/// not compared.
pub fn picture_hash(bytes: &[u8], media_type: &str) -> Option<PictureHash> {
    if !media_type.starts_with("image/") {
        return None;
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(PICTURE_WIDTH_MAX);
    limits.max_image_height = Some(PICTURE_HEIGHT_MAX);
    limits.max_alloc = Some(PICTURE_DECODE_BYTES_MAX);
    reader.limits(limits);
    let picture = reader.decode().ok()?;
    let hash = image_hasher::HasherConfig::new()
        .hash_size(8, 8)
        .hash_alg(image_hasher::HashAlg::Median)
        .preproc_dct()
        .to_hasher()
        .hash_image(&picture);
    let bits: [u8; 8] = hash.as_bytes().try_into().ok()?;
    Some(PictureHash(u64::from_be_bytes(bits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8,
        6, 0, 0, 0,
    ];

    fn store() -> (FileStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!("danbao-files-{}", uuid::Uuid::new_v4().simple()));
        (FileStore::open(&dir).unwrap_or_else(|e| panic!("{e}")), dir)
    }

    #[test]
    fn stores_by_content_and_sniffs_the_type() {
        let (fs, dir) = store();
        let a = fs.put(PNG, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.media_type, "image/png");
        assert_eq!(a.sha256, hex::encode(Sha256::digest(PNG)));
        // The same bytes are the same file, whatever the client claims they are.
        let b = fs
            .put(PNG, Some(&a.sha256.to_uppercase()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        assert_eq!(
            fs.get(&a.sha256).unwrap_or_else(|e| panic!("{e}")).as_deref(),
            Some(PNG)
        );
        let t = fs
            .put("卡密无效，截图见附件".as_bytes(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.media_type, "text/plain");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn refuses_bad_files() {
        let (fs, dir) = store();
        assert!(matches!(fs.put(b"", None), Err(FileError::Empty)));
        assert!(matches!(fs.put(PNG, Some("00")), Err(FileError::HashMismatch { .. })));
        let big = vec![b'a'; FILE_BYTES_MAX + 1];
        assert!(matches!(fs.put(&big, None), Err(FileError::TooLarge { .. })));
        // An executable stays out, whatever name or type it is sent with.
        let elf = [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(fs.put(&elf, None), Err(FileError::MediaType(_))));
        assert!(matches!(fs.put(&[0u8, 1, 2, 0xff], None), Err(FileError::MediaType(_))));
        assert_eq!(fs.get("../../etc/passwd").unwrap_or_else(|e| panic!("{e}")), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_file_changed_on_disk_is_caught() {
        let (fs, dir) = store();
        let a = fs.put(PNG, None).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join(&a.sha256[..2]).join(&a.sha256);
        std::fs::write(&path, b"swapped").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(fs.get(&a.sha256), Err(FileError::Corrupt(_))));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A screenshot-like picture: bands of colour and a few blocks, seeded.
    fn picture(seed: u32, width: u32, height: u32) -> image::RgbImage {
        image::RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (x * 100 / width, y * 100 / height);
            let block = (fx / 25 + fy / 20 + seed).is_multiple_of(3);
            let v = ((fx * (seed + 3) + fy * 7) % 200) as u8 + if block { 55 } else { 0 };
            image::Rgb([v, v / 2 + 40, 255 - v])
        })
    }

    fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap_or_else(|e| panic!("{e}"));
        out.into_inner()
    }

    #[test]
    fn the_same_picture_re_saved_hashes_near_and_another_far() {
        let shot = picture(1, 390, 844);
        let png = encode(&shot, image::ImageFormat::Png);
        let a = picture_hash(&png, &sniff(&png)).unwrap_or_else(|| panic!("png not hashed"));
        // Re-compressed as JPEG and scaled down: the same picture to a person.
        let smaller = image::imageops::resize(&shot, 300, 649, image::imageops::FilterType::Triangle);
        let jpeg = encode(&smaller, image::ImageFormat::Jpeg);
        let b = picture_hash(&jpeg, &sniff(&jpeg)).unwrap_or_else(|| panic!("jpeg not hashed"));
        assert!(a.distance(b) <= PICTURE_HASH_DISTANCE_MAX, "{}", a.distance(b));
        let jpeg = encode(&shot, image::ImageFormat::Jpeg);
        let d = picture_hash(&jpeg, "image/jpeg").unwrap_or_else(|| panic!("jpeg not hashed"));
        assert!(a.distance(d) <= PICTURE_HASH_DISTANCE_MAX, "{}", a.distance(d));
        // Another screenshot: the same kind of picture, laid out otherwise.
        let other = encode(
            &image::imageops::rotate90(&picture(1, 844, 390)),
            image::ImageFormat::Png,
        );
        let c = picture_hash(&other, "image/png").unwrap_or_else(|| panic!("not hashed"));
        assert!(a.distance(c) > 2 * PICTURE_HASH_DISTANCE_MAX, "{}", a.distance(c));
        assert_eq!(PictureHash::from_hex(&a.to_hex()), Some(a));
        // The band keys put back together are the hash.
        let keys = a.band_keys();
        let joined = keys.iter().zip(0i64..).fold(0u64, |acc, (k, place)| {
            (acc << 8) | u64::try_from(k - place * 256).unwrap_or(0)
        });
        assert_eq!((keys.len(), joined), (8, a.0));
    }

    #[test]
    fn what_is_not_a_picture_is_not_hashed() {
        assert_eq!(picture_hash("卡密无效".as_bytes(), "text/plain"), None);
        assert_eq!(picture_hash(b"%PDF-1.4", "application/pdf"), None);
        // A broken picture: the header of a PNG and nothing else.
        assert_eq!(picture_hash(PNG, "image/png"), None);
        // A picture wider than the bound is not decoded at all.
        let wide = encode(&image::RgbImage::new(PICTURE_WIDTH_MAX + 1, 2), image::ImageFormat::Png);
        assert_eq!(picture_hash(&wide, "image/png"), None);
        let fits = encode(&image::RgbImage::new(PICTURE_WIDTH_MAX, 2), image::ImageFormat::Png);
        assert!(picture_hash(&fits, "image/png").is_some());
    }
}
