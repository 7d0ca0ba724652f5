//! The `.npz` reader refuses archives whose members claim to decompress to more than
//! `MAX_NPZ_UNCOMPRESSED_BYTES`, from the headers alone (issue 24: every input capped).

/// A ZIP central directory of `n` members, each claiming `size` uncompressed bytes, and
/// its end record (no member data: the check comes before any is read).
fn archive(n: u16, size: u32) -> Vec<u8> {
    let mut b = Vec::new();
    let dir_at = b.len() as u32;
    for i in 0..n {
        let name = format!("a{i}.npy");
        let mut e = vec![0u8; 46];
        e[0..4].copy_from_slice(&[0x50, 0x4b, 0x01, 0x02]);
        e[10..12].copy_from_slice(&8u16.to_le_bytes()); // deflate
        e[20..24].copy_from_slice(&16u32.to_le_bytes()); // compressed size
        e[24..28].copy_from_slice(&size.to_le_bytes()); // uncompressed size
        e[28..30].copy_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend(e);
        b.extend(name.as_bytes());
    }
    let mut eocd = vec![0u8; 22];
    eocd[0..4].copy_from_slice(&[0x50, 0x4b, 0x05, 0x06]);
    eocd[10..12].copy_from_slice(&n.to_le_bytes());
    eocd[16..20].copy_from_slice(&dir_at.to_le_bytes());
    b.extend(eocd);
    b
}

#[test]
fn a_zip_bomb_is_refused_from_its_headers() {
    let e = runtime::npz::read_npz(&archive(1, u32::MAX))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MAX_NPZ_UNCOMPRESSED_BYTES") && e.contains("a0.npy"),
        "{e}"
    );
    // Many members that each look modest but add up past the cap.
    let each = (runtime::npz::MAX_NPZ_UNCOMPRESSED_BYTES / 100) as u32;
    let e = runtime::npz::read_npz(&archive(200, each))
        .unwrap_err()
        .to_string();
    assert!(e.contains("MAX_NPZ_UNCOMPRESSED_BYTES"), "{e}");
    // Under the cap the reader goes on to the members (and finds no local header here).
    let e = runtime::npz::read_npz(&archive(1, 1000))
        .unwrap_err()
        .to_string();
    assert!(!e.contains("MAX_NPZ"), "{e}");
}
