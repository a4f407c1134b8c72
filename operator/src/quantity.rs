//! Comparison of storage quantities (`10Gi`, `500M`, `1.5Ti`), for "size may only grow".

/// The number of bytes a Kubernetes storage quantity denotes, or `None` for a form this
/// parser does not read (exponents, milli-units), which callers treat as "cannot compare".
pub fn bytes(quantity: &str) -> Option<u128> {
    let quantity = quantity.trim();
    let split = quantity.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 18 {
        return None;
    }
    // (whole.fraction × multiplier), exact: scale the digits up, multiply, then divide.
    let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
    let scale = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let value = digits.checked_mul(multiplier)? / scale;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn parses_binary_decimal_and_fractional_forms() {
        assert_eq!(bytes("10Gi"), Some(10 << 30));
        assert_eq!(bytes("500M"), Some(500_000_000));
        assert_eq!(bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(bytes("1024"), Some(1024));
        assert!(bytes("1Gi").unwrap() > bytes("1G").unwrap());
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["", "Gi", "1e3", "100m", "1.2.3Gi", "-1Gi", "abc"] {
            assert_eq!(bytes(bad), None, "{bad}");
        }
    }
}
