// SQL for the perceptual hashes of evidence pictures (预审, issue 15). Included into
// `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// Records a file's picture hash and its band keys once (files are content-addressed:
/// the same bytes, the same hash).
pub async fn insert_image_hash(tx: &mut Conn, h: &ImageHashRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO evidence_image_hashes (file_sha256, algorithm, phash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (file_sha256) DO NOTHING",
    )
    .bind(&h.file_sha256)
    .bind(&h.algorithm)
    .bind(&h.phash)
    .bind(h.created_at)
    .execute(&mut **tx)
    .await?;
    let sql = format!(
        "INSERT INTO evidence_image_bands (band_key, file_sha256) VALUES {} ON CONFLICT (band_key, file_sha256) DO NOTHING",
        values_list(h.band_keys.len(), 2, 1)
    );
    let mut q = sqlx::query(&sql);
    for key in &h.band_keys {
        q = q.bind(*key).bind(&h.file_sha256);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// The picture hashes of these files (those that have one).
pub async fn image_hashes_of(tx: &mut Conn, files: &[String]) -> Result<Vec<ImageHashRow>> {
    let mut out = Vec::new();
    for chunk in files.chunks(ROWS_PER_STATEMENT) {
        let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT file_sha256, algorithm, phash, created_at FROM evidence_image_hashes \
             WHERE file_sha256 IN ({}) ORDER BY file_sha256",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for f in chunk {
            q = q.bind(f);
        }
        for r in q.fetch_all(&mut **tx).await? {
            out.push(ImageHashRow {
                file_sha256: r.try_get("file_sha256")?,
                algorithm: r.try_get("algorithm")?,
                phash: r.try_get("phash")?,
                band_keys: Vec::new(),
                created_at: r.try_get("created_at")?,
            });
        }
    }
    Ok(out)
}

/// Evidence files in complaints other than `complaint_id` whose picture hash shares a
/// band key with `band_keys` (candidates: the caller checks the distance), with the
/// complaint each was used in, newest complaints first. Bounded: a picture seen in very
/// many cases says enough with the newest of them.
pub async fn image_uses_sharing_a_band(
    tx: &mut Conn,
    band_keys: &[i64],
    algorithm: &str,
    complaint_id: &ComplaintId,
) -> Result<Vec<ImageUseRow>> {
    if band_keys.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<String> = (3..3 + band_keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT DISTINCT h.file_sha256, h.phash, e.party, e.complaint_id, c.order_id, c.seller_id, c.created_at \
         FROM evidence_image_bands b \
         JOIN evidence_image_hashes h ON h.file_sha256 = b.file_sha256 \
         JOIN complaint_evidence e ON e.file_sha256 = h.file_sha256 \
         JOIN complaints c ON c.id = e.complaint_id \
         WHERE b.band_key IN ({}) AND h.algorithm = $1 AND e.complaint_id <> $2 \
         ORDER BY c.created_at DESC, e.complaint_id, h.file_sha256, e.party LIMIT 2000",
        params.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(algorithm).bind(complaint_id.as_str());
    for key in band_keys {
        q = q.bind(*key);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| {
            Ok(ImageUseRow {
                file_sha256: r.try_get("file_sha256")?,
                phash: r.try_get("phash")?,
                party: r.try_get("party")?,
                complaint_id: ComplaintId::from_trusted(r.try_get("complaint_id")?),
                order_id: OrderId::from_trusted(r.try_get("order_id")?),
                seller_id: UserId::from_trusted(r.try_get("seller_id")?),
            })
        })
        .collect()
}
