//! A plain-English description of a 5-field cron expression, for the common forms: every N
//! minutes, at minute M, fixed times, hour ranges and lists, days of the month, months and
//! day-of-week ranges or lists. Anything else falls back to croner's own description.

const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// One field, in the forms the describer knows.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Any,
    /// `*/N`
    Step(u32),
    /// Single values and ranges, in order: `1-5`, `0,30`, `9-12,14`.
    Parts(Vec<(u32, u32)>),
}

fn parse(text: &str, names: &[&str], max: u32) -> Option<Field> {
    if text == "*" || text == "?" {
        return Some(Field::Any);
    }
    if let Some(step) = text.strip_prefix("*/") {
        return step.parse().ok().filter(|n| *n > 0).map(Field::Step);
    }
    let value = |v: &str| -> Option<u32> {
        let lower = v.to_ascii_lowercase();
        let by_name = names.iter().position(|n| n[..3].eq_ignore_ascii_case(&lower)).map(|i| i as u32);
        let n = v.parse().ok().or(by_name.map(|i| if max == 12 { i + 1 } else { i }))?;
        (n <= max).then_some(n)
    };
    let mut parts = Vec::new();
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (value(a)?, value(b)?),
            None => (value(part)?, value(part)?),
        };
        if a > b {
            return None;
        }
        parts.push((a, b));
    }
    Some(Field::Parts(parts))
}

fn list(items: Vec<String>) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

fn named(parts: &[(u32, u32)], name: impl Fn(u32) -> String) -> String {
    list(parts.iter().map(|&(a, b)| if a == b { name(a) } else { format!("{} to {}", name(a), name(b)) }).collect())
}

fn numbers(parts: &[(u32, u32)]) -> String {
    named(parts, |n| n.to_string())
}

fn singles(parts: &[(u32, u32)]) -> Option<Vec<u32>> {
    parts.iter().map(|&(a, b)| (a == b).then_some(a)).collect()
}

/// "every 15 minutes, between 09:00 and 17:59, Monday to Friday".
pub fn describe(cron: &croner::Cron, text: &str) -> String {
    describe_fields(text).unwrap_or_else(|| cron.describe())
}

fn describe_fields(text: &str) -> Option<String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else { return None };
    let minute = parse(minute, &[], 59)?;
    let hour = parse(hour, &[], 23)?;
    let dom = parse(dom, &[], 31)?;
    let month = parse(month, &MONTHS, 12)?;
    let dow = parse(dow, &DAYS, 7)?;
    let mut out = Vec::new();
    let fixed_minute = match &minute {
        Field::Parts(p) => singles(p).filter(|m| m.len() == 1).map(|m| m[0]),
        _ => None,
    };
    match (&minute, &hour, fixed_minute) {
        // Fixed times: "at 09:00" or "at 09:00, 12:00 and 15:00".
        (_, Field::Parts(h), Some(m)) if singles(h).is_some() => {
            let hours = singles(h)?;
            out.push(format!("at {}", list(hours.iter().map(|h| format!("{h:02}:{m:02}")).collect())));
        }
        _ => {
            out.push(match &minute {
                Field::Any => "every minute".to_owned(),
                Field::Step(1) => "every minute".to_owned(),
                Field::Step(n) => format!("every {n} minutes"),
                Field::Parts(p) => match (fixed_minute, &hour) {
                    (Some(m), Field::Any) => format!("at minute {m} of every hour"),
                    (Some(m), _) => format!("at minute {m}"),
                    (None, _) => format!("at minutes {}", numbers(p)),
                },
            });
            match &hour {
                Field::Any => {}
                Field::Step(n) => out.push(format!("every {n} hours")),
                Field::Parts(p) => out.push(match singles(p) {
                    Some(hours) => format!("in the hour{} {}", if hours.len() == 1 { "" } else { "s" }, {
                        list(hours.iter().map(|h| format!("{h:02}:00")).collect())
                    }),
                    None => list(
                        p.iter()
                            .map(|&(a, b)| {
                                if a == b {
                                    format!("{a:02}:00 to {a:02}:59")
                                } else {
                                    format!("between {a:02}:00 and {b:02}:59")
                                }
                            })
                            .collect(),
                    ),
                }),
            }
        }
    }
    let day_of_month = match &dom {
        Field::Any => None,
        Field::Step(n) => Some(format!("every {n} days of the month")),
        Field::Parts(p) => Some(match singles(p) {
            Some(d) if d.len() == 1 => format!("on day {} of the month", d[0]),
            _ => format!("on days {} of the month", numbers(p)),
        }),
    };
    let day_name = |d: u32| DAYS[(d % 7) as usize].to_owned();
    let day_of_week = match &dow {
        Field::Any => None,
        Field::Step(_) => return None,
        Field::Parts(p) => Some(match singles(p) {
            Some(_) => format!("on {}", named(p, day_name)),
            None => named(p, day_name),
        }),
    };
    match (day_of_month, day_of_week) {
        // Cron runs when either day field matches once both are restricted.
        (Some(m), Some(w)) => out.push(format!("{m} or {w}")),
        (Some(d), None) | (None, Some(d)) => out.push(d),
        (None, None) => {}
    }
    match &month {
        Field::Any => {}
        Field::Step(n) => out.push(format!("every {n} months")),
        Field::Parts(p) => out.push(format!("in {}", named(p, |m| MONTHS[(m - 1) as usize].to_owned()))),
    }
    Some(out.join(", "))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(text: &str) -> String {
        describe(&croner::Cron::from_str(text).unwrap(), text)
    }

    #[test]
    fn common_forms() {
        assert_eq!(d("*/15 9-17 * * 1-5"), "every 15 minutes, between 09:00 and 17:59, Monday to Friday");
        assert_eq!(d("0 9 * * *"), "at 09:00");
        assert_eq!(d("30 2 * * *"), "at 02:30");
        assert_eq!(d("0 9,12,15 * * mon-fri"), "at 09:00, 12:00 and 15:00, Monday to Friday");
        assert_eq!(d("0 * * * 1-5"), "at minute 0 of every hour, Monday to Friday");
        assert_eq!(d("* * * * *"), "every minute");
        assert_eq!(
            d("0,30 8-11,14-17 * * 1,3,5"),
            "at minutes 0 and 30, between 08:00 and 11:59 and between 14:00 and 17:59, on Monday, Wednesday and Friday"
        );
        assert_eq!(d("0 10 1 * *"), "at 10:00, on day 1 of the month");
        assert_eq!(d("0 10 * 12 *"), "at 10:00, in December");
        assert_eq!(d("0 10 1-24 dec 0"), "at 10:00, on days 1 to 24 of the month or on Sunday, in December");
        assert_eq!(d("*/5 */2 * * 6-7"), "every 5 minutes, every 2 hours, Saturday to Sunday");
    }

    #[test]
    fn unusual_forms_fall_back_to_croner() {
        let text = "0 9-17/2 * * *";
        assert_eq!(d(text), croner::Cron::from_str(text).unwrap().describe());
    }
}
