//! Money as integers of the currency's minor unit (cents for USD), never floats. A price per
//! 1,000 units is applied to a count once, and rounded once, to the nearest minor unit (halves
//! up).

/// The largest amount a statement carries: 2^53 − 1 minor units, the largest integer every JSON
/// reader (JavaScript's numbers included) reads exactly.
pub const MAX_AMOUNT: u64 = (1 << 53) - 1;

/// An amount past [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the amount is larger than {MAX_AMOUNT} minor units")]
pub struct TooLarge;

/// `count × rate / 1000`, rounded to the nearest minor unit, halves up.
///
/// # Errors
/// [`TooLarge`] past [`MAX_AMOUNT`].
pub fn per_thousand(count: u64, rate: u64) -> Result<u64, TooLarge> {
    let exact = u128::from(count) * u128::from(rate);
    checked((exact + 500) / 1000)
}

/// The sum of amounts.
///
/// # Errors
/// [`TooLarge`] past [`MAX_AMOUNT`].
pub fn sum(amounts: impl IntoIterator<Item = u64>) -> Result<u64, TooLarge> {
    checked(amounts.into_iter().map(u128::from).sum())
}

fn checked(n: u128) -> Result<u64, TooLarge> {
    u64::try_from(n).ok().filter(|n| *n <= MAX_AMOUNT).ok_or(TooLarge)
}

/// An amount as a decimal in the currency's main unit: `12345` with 2 digits is `123.45`.
#[must_use]
pub fn decimal(amount: u64, minor_digits: u8) -> String {
    if minor_digits == 0 {
        return amount.to_string();
    }
    let unit = 10u64.pow(u32::from(minor_digits));
    format!("{}.{:0width$}", amount / unit, amount % unit, width = usize::from(minor_digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_thousand_rounds_once_halves_up() {
        assert_eq!(per_thousand(1_000, 25), Ok(25));
        assert_eq!(per_thousand(1, 25), Ok(0)); // 0.025
        assert_eq!(per_thousand(20, 25), Ok(1)); // 0.5 rounds up
        assert_eq!(per_thousand(19, 25), Ok(0)); // 0.475
        assert_eq!(per_thousand(12_345, 7), Ok(86)); // 86.415
        assert_eq!(per_thousand(0, u64::MAX), Ok(0));
        assert_eq!(per_thousand(u64::MAX, u64::MAX), Err(TooLarge));
    }

    #[test]
    fn sums_stay_exact_or_fail() {
        assert_eq!(sum([1, 2, 3]), Ok(6));
        assert_eq!(sum([MAX_AMOUNT, 0]), Ok(MAX_AMOUNT));
        assert_eq!(sum([MAX_AMOUNT, 1]), Err(TooLarge));
    }

    #[test]
    fn decimals_follow_the_currency() {
        assert_eq!(decimal(12_345, 2), "123.45");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(0, 2), "0.00");
        assert_eq!(decimal(1_500, 0), "1500");
        assert_eq!(decimal(1_500, 3), "1.500");
    }
}
