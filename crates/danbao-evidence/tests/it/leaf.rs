//! The canonical leaf encoding: one record, one text.

use danbao_evidence::{leaf_hash, LeafError, LeafRecord};

use crate::common::{rng, sample_fields};

fn sample() -> LeafRecord {
    LeafRecord::new(sample_fields(&mut rng(40))).unwrap()
}

#[test]
fn canonical_text_round_trips() {
    let record = sample();
    let text = record.to_canonical();
    let expected = format!(
        "danbao-leaf/v1\ncase order:0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77\nkind order.paid\nat_ms 1767225600000\n\
         content_sha256 {}\nprev_leaf_hash {}\nsalt {}\n\
         ref order_id 0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77\nref payment_id 0190f7a5-0000-7000-8000-000000000001\n",
        record.content_sha256(),
        record.prev_leaf_hash().unwrap(),
        record.salt()
    );
    assert_eq!(text, expected);
    assert_eq!(LeafRecord::parse_canonical(&text).unwrap(), record);
    assert_eq!(record.leaf_hash(), leaf_hash(text.as_bytes()));
    assert_eq!(record.version(), 1);

    // First leaf of a case, no refs, time zero.
    let mut fields = record.clone().into_fields();
    fields.prev_leaf_hash = None;
    fields.refs.clear();
    fields.at_ms = 0;
    let first = LeafRecord::new(fields).unwrap();
    let text = first.to_canonical();
    assert!(text.contains("\nprev_leaf_hash none\n") && text.contains("\nat_ms 0\n"));
    assert_eq!(LeafRecord::parse_canonical(&text).unwrap(), first);
}

#[test]
fn salts_are_fresh_16_byte_hex() {
    let mut r = rng(41);
    let a = LeafRecord::new_salt(&mut r);
    let b = LeafRecord::new_salt(&mut r);
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn non_canonical_texts_are_refused() {
    let text = sample().to_canonical();
    let lines: Vec<&str> = text.lines().collect();
    let swap = |i: usize, j: usize| {
        let mut l = lines.clone();
        l.swap(i, j);
        l.join("\n") + "\n"
    };
    let hex_line = lines.iter().position(|l| l.starts_with("content_sha256 ")).unwrap();
    let variants: Vec<(&str, String)> = vec![
        ("reordered case/kind", swap(1, 2)),
        ("reordered salt/prev", swap(5, 6)),
        ("unsorted refs", swap(7, 8)),
        ("extra space after name", text.replacen("kind ", "kind  ", 1)),
        ("trailing space", text.replacen("order.paid\n", "order.paid \n", 1)),
        (
            "extra space in ref",
            text.replacen("ref order_id ", "ref order_id  ", 1),
        ),
        ("uppercase hex", {
            let mut l = lines.clone();
            let upper = l[hex_line].replace("content_sha256 ", "").to_uppercase();
            let new = format!("content_sha256 {upper}");
            l[hex_line] = &new;
            l.join("\n") + "\n"
        }),
        ("uppercase salt", text.replacen("\nsalt ", "\nSALT ", 1)),
        ("no final newline", text.trim_end_matches('\n').to_owned()),
        ("extra final newline", format!("{text}\n")),
        ("CRLF", text.replace('\n', "\r\n")),
        ("blank line", text.replacen("\nkind ", "\n\nkind ", 1)),
        ("other version", text.replacen("danbao-leaf/v1", "danbao-leaf/v2", 1)),
        ("leading zero time", text.replacen("at_ms 1", "at_ms 01", 1)),
        ("plus time", text.replacen("at_ms 1", "at_ms +1", 1)),
        ("negative time", text.replacen("at_ms 1", "at_ms -1", 1)),
        ("duplicate ref", {
            let mut l = lines.clone();
            l.insert(8, lines[7]);
            l.join("\n") + "\n"
        }),
        ("missing salt", {
            let mut l = lines.clone();
            l.remove(6);
            l.join("\n") + "\n"
        }),
        ("unknown line", format!("{text}note hello\n")),
        (
            "prev none spelled differently",
            text.replacen(sample().prev_leaf_hash().unwrap(), "None", 1),
        ),
    ];
    for (what, bad) in variants {
        assert_ne!(bad, text, "{what}: variant is not different");
        assert!(LeafRecord::parse_canonical(&bad).is_err(), "{what}: accepted {bad:?}");
    }
    assert_eq!(
        LeafRecord::parse_canonical(&text.replacen("danbao-leaf/v1", "danbao-leaf/v2", 1)),
        Err(LeafError::UnknownFormat)
    );
    assert!(LeafRecord::parse_canonical(&"x".repeat(10_000)).is_err());
}

#[test]
fn bad_values_are_refused_at_construction() {
    let base = sample_fields(&mut rng(42));
    let check = |edit: &dyn Fn(&mut danbao_evidence::LeafFields), expected: LeafError| {
        let mut f = base.clone();
        edit(&mut f);
        assert_eq!(LeafRecord::new(f), Err(expected));
    };
    check(
        &|f| f.case = "order:1\nkind ruling".to_owned(),
        LeafError::ForbiddenCharacter { field: "case" },
    );
    check(
        &|f| f.kind = "order.paid\n".to_owned(),
        LeafError::ForbiddenCharacter { field: "kind" },
    );
    check(
        &|f| f.kind = "order paid".to_owned(),
        LeafError::ForbiddenCharacter { field: "kind" },
    );
    check(
        &|f| f.case = "订单:1".to_owned(),
        LeafError::ForbiddenCharacter { field: "case" },
    );
    check(
        &|f| {
            f.refs.insert("order_id".to_owned(), "a\nsalt 00".to_owned());
        },
        LeafError::ForbiddenCharacter { field: "ref value" },
    );
    check(
        &|f| {
            f.refs.insert("Order".to_owned(), "1".to_owned());
        },
        LeafError::InvalidRefKey("Order".to_owned()),
    );
    check(
        &|f| {
            f.refs.insert("with space".to_owned(), "1".to_owned());
        },
        LeafError::InvalidRefKey("with space".to_owned()),
    );
    check(&|f| f.case.clear(), LeafError::Empty { field: "case" });
    check(
        &|f| f.case = "c".repeat(129),
        LeafError::TooLong {
            field: "case",
            max: 128,
        },
    );
    check(
        &|f| f.content_sha256 = f.content_sha256.to_uppercase(),
        LeafError::NotLowercaseHex {
            field: "content_sha256",
            len: 64,
        },
    );
    check(
        &|f| f.content_sha256.pop().map(drop).unwrap_or(()),
        LeafError::NotLowercaseHex {
            field: "content_sha256",
            len: 64,
        },
    );
    check(
        &|f| f.prev_leaf_hash = Some("none".to_owned()),
        LeafError::NotLowercaseHex {
            field: "prev_leaf_hash",
            len: 64,
        },
    );
    check(
        &|f| f.salt = "00".to_owned(),
        LeafError::NotLowercaseHex { field: "salt", len: 32 },
    );
    check(&|f| f.at_ms = -1, LeafError::NegativeTime);
    check(
        &|f| {
            for i in 0..20 {
                f.refs.insert(format!("k{i:02}"), "v".to_owned());
            }
        },
        LeafError::TooManyRefs { max: 16 },
    );
}
