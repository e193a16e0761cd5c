//! Generators: text.

use super::*;

pub(crate) fn pick(items: &[&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(items.to_vec())
        .prop_map(str::to_owned)
        .boxed()
}

/// C0 and C1 controls and DEL.
const CONTROLS: [char; 14] = [
    '\u{0}', '\u{1}', '\u{7}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1b}', '\u{1f}',
    '\u{7f}', '\u{85}', '\u{9f}',
];

/// Format characters, separators and other default-ignorables.
const FORMATS: [char; 30] = [
    '\u{ad}',
    '\u{600}',
    '\u{61c}',
    '\u{180e}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}',
    '\u{2028}',
    '\u{2029}',
    '\u{2060}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{feff}',
    '\u{fff9}',
    '\u{110bd}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{fe0f}',
    '\u{e0100}',
    '\u{115f}',
    '\u{34f}',
];

/// Unassigned code points and noncharacters.
const UNASSIGNED: [char; 12] = [
    '\u{378}',
    '\u{379}',
    '\u{5ff}',
    '\u{2fe0}',
    '\u{fdd0}',
    '\u{fdef}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{1fffe}',
    '\u{e01f0}',
    '\u{10fffe}',
    '\u{10ffff}',
];

/// Pieces of emoji: faces, skin tones, regional indicators, the joiner, keycaps.
const EMOJI: [char; 13] = [
    '😀', '👍', '🏽', '🇦', '🇺', '❤', '👨', '👩', '👧', '🤷', '🏳', '\u{20e3}', '\u{200d}',
];

/// Letters that pass for others, compatibility forms, odd spaces, case-folding oddities.
const LOOKALIKES: [char; 34] = [
    'а', 'е', 'о', 'р', 'с', 'х', 'і', 'ɑ', 'ᴀ', 'ｇ', 'Ａ', '𝐆', 'ﬁ', 'Ⅸ', '①', '\u{a0}',
    '\u{2007}', '\u{3000}', '\u{1680}', '\u{2800}', 'ß', 'ẞ', 'İ', 'ı', 'ς', 'ǅ', '\u{2126}',
    '\u{212a}', '\u{212b}', 'Ꭺ', 'օ', 'ℊ', '٣', '０',
];

fn any_char() -> BoxedStrategy<char> {
    prop_oneof![
        10 => prop::char::range('a', 'z'),
        3 => prop::char::range('A', 'Z'),
        2 => prop::char::range('0', '9'),
        3 => prop::sample::select(" '-.,&@+()/#\"\\%_~*=?;:<>{}[]!|`$^".chars().collect::<Vec<_>>()),
        1 => prop::sample::select(CONTROLS.to_vec()),
        1 => prop::sample::select(FORMATS.to_vec()),
        1 => prop::char::range('\u{e000}', '\u{f8ff}'),
        1 => prop::sample::select(UNASSIGNED.to_vec()),
        2 => prop::char::range('\u{300}', '\u{36f}'),
        1 => prop::sample::select(EMOJI.to_vec()),
        1 => prop::char::range('\u{5d0}', '\u{5ea}'),
        1 => prop::char::range('\u{627}', '\u{64a}'),
        1 => prop::char::range('\u{4e00}', '\u{9fff}'),
        1 => prop::char::range('\u{3041}', '\u{3096}'),
        1 => prop::char::range('\u{ac00}', '\u{d7a3}'),
        2 => prop::char::range('\u{c0}', '\u{17f}'),
        1 => prop::char::range('\u{391}', '\u{3c9}'),
        1 => prop::char::range('\u{410}', '\u{44f}'),
        1 => prop::sample::select(LOOKALIKES.to_vec()),
        1 => prop::char::range('\u{10000}', '\u{10ffff}'),
    ]
    .boxed()
}

const SPECIAL_TEXT: [&str; 44] = [
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\u{3000}",
    "\u{a0}",
    "null",
    "undefined",
    "true",
    "0",
    "-1",
    "[]",
    "{}",
    "'",
    "''",
    "\"",
    "\\",
    "\\'",
    "%00",
    "%",
    "../",
    "*",
    "👨‍👩‍👧‍👦",
    "🇦🇺",
    "👍🏽",
    "Z̷̢a̸l̵g̶o̵",
    "e\u{301}\u{301}\u{301}",
    "מרים",
    "محمد",
    "王小明",
    "김민준",
    "Σωκράτης",
    "Владимир",
    "\u{202e}nivaG",
    "Ga\u{200b}vin",
    "G\u{430}vin",
    "ｇａｖｉｎ",
    "O'Brien",
    "'; DROP TABLE users; --",
    "attribute_exists(pk)",
    "<script>alert(1)</script>",
    "a\u{0}b",
    "\u{feff}",
];

/// Text of every general category, specials, and long runs.
pub(crate) fn text(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::collection::vec(any_char(), 0..=max).prop_map(|c| c.into_iter().collect()),
        2 => pick(&SPECIAL_TEXT),
        1 => long_text(),
    ]
    .boxed()
}

/// One unit repeated to the lengths the service's limits sit at.
pub(crate) fn long_text() -> BoxedStrategy<String> {
    (
        pick(&[
            "a", "é", "한", "😀", "\u{301}", " ", "a ", "ΐ", "ß", "e\u{301}", "'",
        ]),
        prop::sample::select(vec![
            64usize, 65, 99, 100, 101, 254, 255, 256, 400, 401, 1_024, 1_025, 4_096, 5_000,
        ]),
    )
        .prop_map(|(unit, n)| unit.repeat(n))
        .boxed()
}

pub(crate) const NAMES: [&str; 24] = [
    "Gavin",
    "Belson",
    "Zoë",
    "ZOË",
    "Ångström",
    "O'Brien",
    "Mary-Jane",
    "José",
    "Ægir",
    "Σωκράτης",
    "Владимир",
    "王小明",
    "さくら",
    "김민준",
    "محمد",
    "אברהם",
    "Nguyễn Văn",
    "D'Artagnan",
    "Smith & Sons (Aust) Pty. Ltd.",
    "Yahoo!",
    "C++",
    "İstanbul",
    "Straße",
    "Zora",
];

pub(crate) fn name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => pick(&NAMES),
        3 => text(24),
        1 => long_text(),
        // Hangul syllables fold to three letters each: the longest keys a valid name makes.
        1 => (95usize..=101).prop_map(|n| "한".repeat(n)),
    ]
    .boxed()
}

pub(crate) fn email() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (
            pick(&["prop", "a.b", "o'brien", "x+tag", "first_last", "zoë", "UPPER", "用户"]),
            0u32..10_000,
            pick(&["example.com", "example.co.uk", "例え.jp", "xn--bcher-kva.example", "EXAMPLE.COM"]),
        )
            .prop_map(|(local, n, domain)| format!("{local}{n}@{domain}")),
        2 => pick(&[
            "nope", "a@b", "@b.co", "a@", "a@b.c", "a@@b.co", "a b@c.co", "a@b..co",
            "\"quoted@local\"@example.com", "a@[127.0.0.1]", "Gavin <g@h.co>", "g\u{430}vin@hooli.com",
            "ga\u{200b}vin@hooli.com", "gavin@h\u{43e}\u{43e}li.com", "zoe.angstrom@example.com",
            "ZOE.ANGSTROM@EXAMPLE.COM", " zoe.angstrom@example.com ", "zora.angelou@example.org",
        ]),
        1 => (1usize..=300).prop_map(|n| format!("{}@example.com", "a".repeat(n))),
        2 => text(30),
    ]
    .boxed()
}

pub(crate) fn mobile() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[0-9]{7,16}".prop_map(|digits| format!("+{digits}")),
        2 => pick(&[
            "+61411222333", "+61 411 222 333", "+61-411-222-333", "+61499888777", "0411222333",
            "+1234567", "+12345678", "+123456789012345", "+1234567890123456", "+", "++61411222333",
            "+61 411 222 333 ext 4", "+٦١٤١١٢٢٢٣٣٣", "+６１４１１２２２３３３", "(+61) 411 222 333",
            " +61411222333 ", "+61\u{a0}411222333", "+614",
        ]),
        1 => text(20),
    ]
    .boxed()
}

/// A user id that is malformed, or well-formed in an unusual way.
pub(crate) fn odd_user_id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (any::<u128>(), 0u8..12).prop_map(|(n, how)| {
            let id = uuid::Uuid::from_u128(n).hyphenated().to_string();
            match how {
                0 => format!("{{{id}}}"),
                1 => id.replace('-', ""),
                2 => format!("urn:uuid:{id}"),
                3 => format!(" {id}"),
                4 => format!("{id} "),
                5 => id[..35].to_owned(),
                6 => format!("{id}0"),
                7 => format!("{}g", &id[..35]),
                8 => id.replace('0', "０"),
                9 => id.replace('-', "_"),
                10 => format!("{id}/connections"),
                _ => id.to_uppercase(),
            }
        }),
        2 => pick(&[
            "", "abc", "../../etc/passwd", "..", ".", "%00", "%2F", "USER#x", "*",
            "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ]),
        2 => text(40),
    ]
    .boxed()
}

pub(crate) fn absent_user() -> BoxedStrategy<UserRef> {
    any::<u128>()
        .prop_map(|n| UserRef::Absent(uuid::Uuid::from_u128(n).hyphenated().to_string()))
        .boxed()
}

/// Any user reference of a route that reads.
pub(crate) fn user_ref() -> BoxedStrategy<UserRef> {
    prop_oneof![
        6 => Just(UserRef::Seeded),
        2 => Just(UserRef::SeededUpper),
        2 => Just(UserRef::Other),
        2 => absent_user(),
        3 => odd_user_id().prop_map(UserRef::Text),
    ]
    .boxed()
}

/// A record id: valid ones of every length, and every way one can be wrong.
pub(crate) fn record_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[A-Za-z0-9_-]{1,64}",
        1 => pick(&["conn-1", "acc-1-0", "acc-1-1", "txn-1-0", "txn-1-29", "txn-1-30", "conn-2", "acc-9"]),
        1 => (64usize..=65).prop_map(|n| "a".repeat(n)),
        1 => pick(&["", " ", "a/b", "a#b", "ä", "conn-1 ", " conn-1", "a b", "..", "%2F", "CONN#conn-1", "*"]),
        1 => text(20),
    ]
    .boxed()
}

pub(crate) fn record_ref() -> BoxedStrategy<RecordRef> {
    prop_oneof![
        4 => Just(RecordRef::Existing),
        1 => Just(RecordRef::WrongKind),
        4 => record_text().prop_map(RecordRef::Text),
    ]
    .boxed()
}
