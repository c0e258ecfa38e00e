-- 预审 compares evidence pictures (issue 15): the perceptual hash of each stored file that
-- decoded as a picture, so the same screenshot used in complaints about other orders is
-- flagged for the arbitrator. One row per file (files are content-addressed).
CREATE TABLE evidence_image_hashes (
    file_sha256 TEXT PRIMARY KEY,
    -- How the hash was made; hashes made otherwise are never compared.
    algorithm TEXT NOT NULL,
    -- 64 bits as 16 hex digits: what the Hamming distance is computed on.
    phash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- The hash cut into eight bytes, each keyed by its place (place * 256 + byte): two hashes
-- within Hamming distance 7 share at least one key (eight bytes, at most seven differing
-- bits), so near matches are found through this index and the distance checked in code.
CREATE TABLE evidence_image_bands (
    band_key INTEGER NOT NULL,
    file_sha256 TEXT NOT NULL REFERENCES evidence_image_hashes(file_sha256),
    PRIMARY KEY (band_key, file_sha256)
);
-- Which complaints used a file.
CREATE INDEX complaint_evidence_file ON complaint_evidence (file_sha256) WHERE file_sha256 IS NOT NULL;
