//! Decoding request bodies into validated values. The body is read as a JSON
//! object field by field, so that every problem carries the exact pointer of
//! the field it is about, and all problems are reported together.

use serde_json::{Map, Value};

use super::{
    AddressInput, Business, BusinessAddress, BusinessId, BusinessIdNo, BusinessIdType, Email,
    Mobile, Name, NewUser, Patch, UserPatch, VerificationDate,
};
use crate::error::{ApiError, Invalid, Problem};

const USER_FIELDS: [&str; 11] = [
    "email",
    "mobile",
    "firstName",
    "middleName",
    "lastName",
    "businessName",
    "businessIdNo",
    "businessIdNoType",
    "businessAddress",
    "verificationStatus",
    "verificationDate",
];

const ADDRESS_FIELDS: [&str; 6] = [
    "addressLine1",
    "addressLine2",
    "suburb",
    "state",
    "postcode",
    "countryCode",
];

/// Reads one JSON object, remembering every problem met on the way.
struct Reader<'a> {
    prefix: String,
    fields: Map<String, Value>,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn new(
        prefix: String,
        value: Value,
        known: &[&str],
        problems: &'a mut Vec<Problem>,
    ) -> Option<Self> {
        let Value::Object(fields) = value else {
            let at = if prefix.is_empty() { "/" } else { &prefix };
            problems.push(Invalid::new("Must be a JSON object.").at(at));
            return None;
        };
        for name in fields.keys().filter(|k| !known.contains(&k.as_str())) {
            problems.push(Invalid::new("Unknown field.").at(&format!("{prefix}/{}", escape(name))));
        }
        Some(Self {
            prefix,
            fields,
            problems,
        })
    }

    fn pointer(&self, name: &str) -> String {
        format!("{}/{}", self.prefix, escape(name))
    }

    fn raw(&mut self, name: &str) -> Patch<Value> {
        match self.fields.remove(name) {
            None => Patch::Keep,
            Some(Value::Null) => Patch::Clear,
            Some(value) => Patch::Set(value),
        }
    }

    /// A string field; a blank string counts as `null`.
    fn text(&mut self, name: &str) -> Patch<String> {
        match self.raw(name) {
            Patch::Set(Value::String(s)) if s.trim().is_empty() => Patch::Clear,
            Patch::Set(Value::String(s)) => Patch::Set(s),
            Patch::Set(_) => {
                let at = self.pointer(name);
                self.problems
                    .push(Invalid::new("Must be a string.").at(&at));
                Patch::Keep
            }
            Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        }
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Patch<T> {
        match self.text(name) {
            Patch::Set(text) => match parse(&text) {
                Ok(value) => Patch::Set(value),
                Err(invalid) => {
                    let at = self.pointer(name);
                    self.problems.push(invalid.at(&at));
                    Patch::Keep
                }
            },
            Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        }
    }

    fn name(&mut self, name: &str) -> Patch<Name> {
        match self.parsed(name, Name::parse) {
            Patch::Set(Some(value)) => Patch::Set(value),
            Patch::Set(None) | Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        }
    }

    fn boolean(&mut self, name: &str) -> Patch<bool> {
        match self.raw(name) {
            Patch::Set(Value::Bool(b)) => Patch::Set(b),
            Patch::Set(_) => {
                let at = self.pointer(name);
                self.problems
                    .push(Invalid::new("Must be true or false.").at(&at));
                Patch::Keep
            }
            Patch::Clear => Patch::Clear,
            Patch::Keep => Patch::Keep,
        }
    }

    fn address(&mut self) -> Patch<BusinessAddress> {
        let prefix = self.pointer("businessAddress");
        let value = match self.raw("businessAddress") {
            Patch::Set(value) => value,
            Patch::Clear => return Patch::Clear,
            Patch::Keep => return Patch::Keep,
        };
        let before = self.problems.len();
        let Some(mut reader) = Reader::new(prefix.clone(), value, &ADDRESS_FIELDS, self.problems)
        else {
            return Patch::Keep;
        };
        let mut take = |name: &str| match reader.text(name) {
            Patch::Set(text) => Some(text),
            Patch::Clear | Patch::Keep => None,
        };
        let input = AddressInput {
            address_line1: take("addressLine1"),
            address_line2: take("addressLine2"),
            suburb: take("suburb"),
            state: take("state"),
            postcode: take("postcode"),
            country_code: take("countryCode"),
        };
        if self.problems.len() > before {
            return Patch::Keep;
        }
        match BusinessAddress::parse(input) {
            Ok(address) => Patch::Set(address),
            Err((field, invalid)) => {
                self.problems.push(invalid.at(&format!("{prefix}/{field}")));
                Patch::Keep
            }
        }
    }

    /// `businessIdNo` and `businessIdNoType` are read together: the number is
    /// checked by the algorithm its type names.
    fn business_id(&mut self) -> Patch<BusinessId> {
        let kind = self.parsed("businessIdNoType", BusinessIdType::parse);
        let number = self.text("businessIdNo");
        match (number, kind) {
            (Patch::Set(number), Patch::Set(kind)) => match BusinessIdNo::parse(&number, kind) {
                Ok(number) => Patch::Set(BusinessId { number, kind }),
                Err(invalid) => {
                    let at = self.pointer("businessIdNo");
                    self.problems.push(invalid.at(&at));
                    Patch::Keep
                }
            },
            (Patch::Set(_), Patch::Keep) => {
                if !self.has_problem_at("businessIdNoType") {
                    let at = self.pointer("businessIdNoType");
                    self.problems.push(Problem::not_supplied(
                        &at,
                        "businessIdNoType (ABN or ACN) is required with businessIdNo.",
                    ));
                }
                Patch::Keep
            }
            (Patch::Set(_), Patch::Clear) => {
                let at = self.pointer("businessIdNoType");
                self.problems
                    .push(Invalid::new("businessIdNoType is required with businessIdNo.").at(&at));
                Patch::Keep
            }
            (Patch::Keep, Patch::Set(_)) => {
                let at = self.pointer("businessIdNo");
                self.problems.push(Problem::not_supplied(
                    &at,
                    "businessIdNo is required with businessIdNoType.",
                ));
                Patch::Keep
            }
            (Patch::Keep, Patch::Clear) => {
                let at = self.pointer("businessIdNoType");
                self.problems.push(
                    Invalid::new(
                        "businessIdNoType cannot be removed on its own; set businessIdNo to null to remove both.",
                    )
                    .at(&at),
                );
                Patch::Keep
            }
            (Patch::Clear, Patch::Set(_)) => {
                let at = self.pointer("businessIdNo");
                self.problems.push(Problem::not_supplied(
                    &at,
                    "businessIdNo is required with businessIdNoType.",
                ));
                Patch::Keep
            }
            (Patch::Clear, _) => Patch::Clear,
            (Patch::Keep, Patch::Keep) => Patch::Keep,
        }
    }

    fn has_problem_at(&self, name: &str) -> bool {
        let at = self.pointer(name);
        self.problems
            .iter()
            .any(|p| p.at == crate::error::Source::Pointer(at.clone()))
    }
}

/// RFC 6901: `~` and `/` inside a member name are escaped in a pointer.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

struct Fields {
    email: Patch<Email>,
    mobile: Patch<Mobile>,
    first_name: Patch<Name>,
    middle_name: Patch<Name>,
    last_name: Patch<Name>,
    business_name: Patch<Name>,
    business_id: Patch<BusinessId>,
    business_address: Patch<BusinessAddress>,
    verification_status: Patch<bool>,
    verification_date: Patch<VerificationDate>,
}

fn read_fields(body: Value, problems: &mut Vec<Problem>) -> Option<Fields> {
    let mut r = Reader::new(String::new(), body, &USER_FIELDS, problems)?;
    let fields = Fields {
        email: r.parsed("email", Email::parse),
        mobile: r.parsed("mobile", Mobile::parse),
        first_name: r.name("firstName"),
        middle_name: r.name("middleName"),
        last_name: r.name("lastName"),
        business_name: r.name("businessName"),
        business_id: r.business_id(),
        business_address: r.address(),
        verification_status: r.boolean("verificationStatus"),
        verification_date: r.parsed("verificationDate", VerificationDate::parse),
    };
    Some(fields)
}

fn finish<T>(value: Option<T>, problems: Vec<Problem>) -> Result<T, ApiError> {
    match value {
        Some(value) if problems.is_empty() => Ok(value),
        _ => Err(ApiError::BadRequest(problems)),
    }
}

fn into_option<T>(patch: Patch<T>) -> Option<T> {
    match patch {
        Patch::Set(value) => Some(value),
        Patch::Clear | Patch::Keep => None,
    }
}

/// A create request: fields that are absent, `null` or blank are simply not set.
pub fn decode_create(body: Value) -> Result<NewUser, ApiError> {
    let mut problems = Vec::new();
    let user = read_fields(body, &mut problems).map(|f| {
        let (business_id_no, business_id_no_type) = match into_option(f.business_id) {
            Some(id) => (Some(id.number), Some(id.kind)),
            None => (None, None),
        };
        NewUser {
            email: into_option(f.email),
            mobile: into_option(f.mobile),
            first_name: into_option(f.first_name),
            middle_name: into_option(f.middle_name),
            last_name: into_option(f.last_name),
            business: Business {
                business_name: into_option(f.business_name),
                business_id_no,
                business_id_no_type,
                business_address: into_option(f.business_address),
                verification_status: into_option(f.verification_status),
                verification_date: into_option(f.verification_date),
            },
        }
    });
    if let Some(user) = &user {
        let contact_problem = problems
            .iter()
            .any(|p| matches!(&p.at, crate::error::Source::Pointer(at) if at == "/email" || at == "/mobile"));
        if user.email.is_none() && user.mobile.is_none() && !contact_problem {
            problems.push(Problem::not_supplied(
                "/email",
                "Either email or mobile is required.",
            ));
        }
        if user.business.business_id_no.is_some() && user.business.business_name.is_none() {
            problems.push(Problem::not_supplied(
                "/businessName",
                "businessName is required when businessIdNo is given.",
            ));
        }
    }
    finish(user, problems)
}

/// An update request: absent fields stay, `null` (or blank) clears, values replace.
pub fn decode_patch(body: Value) -> Result<UserPatch, ApiError> {
    let mut problems = Vec::new();
    let patch = read_fields(body, &mut problems).map(|f| UserPatch {
        email: f.email,
        mobile: f.mobile,
        first_name: f.first_name,
        middle_name: f.middle_name,
        last_name: f.last_name,
        business_name: f.business_name,
        business_id: f.business_id,
        business_address: f.business_address,
        verification_status: f.verification_status,
        verification_date: f.verification_date,
    });
    if let Some(patch) = &patch {
        if patch.email == Patch::Clear && patch.mobile == Patch::Clear {
            problems.push(
                Invalid::new("A user must keep an email or a mobile; both cannot be removed.")
                    .at("/email"),
            );
        }
        if patch.business_name == Patch::Clear && patch.business_id.as_set().is_some() {
            problems.push(Problem::not_supplied(
                "/businessName",
                "businessName is required when businessIdNo is given.",
            ));
        }
        if patch.is_empty() && problems.is_empty() {
            problems.push(Problem::not_supplied(
                "/",
                "The request names no field to update.",
            ));
        }
    }
    finish(patch, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ProblemKind, Source};
    use serde_json::json;

    fn problems(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<(ProblemKind, String)> {
        match result {
            Err(ApiError::BadRequest(problems)) => problems
                .into_iter()
                .map(|p| match p.at {
                    Source::Pointer(at) | Source::Parameter(at) => (p.kind, at),
                })
                .collect(),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn create_needs_a_contact() {
        assert_eq!(
            problems(decode_create(json!({"firstName": "Gavin"}))),
            vec![(ProblemKind::NotSupplied, "/email".into())]
        );
        assert_eq!(
            problems(decode_create(json!({"email": "", "mobile": null}))),
            vec![(ProblemKind::NotSupplied, "/email".into())]
        );
    }

    #[test]
    fn create_reports_every_problem_with_its_pointer() {
        let found = problems(decode_create(json!({
            "email": "nope",
            "mobile": 61410888666u64,
            "firstName": "x".repeat(101),
            "shoeSize": 9,
            "businessAddress": {"countryCode": "AUS", "state": "XX", "postcode": "2095", "planet": "Earth"}
        })));
        let pointers: Vec<&str> = found.iter().map(|(_, at)| at.as_str()).collect();
        assert!(pointers.contains(&"/email"));
        assert!(pointers.contains(&"/mobile"));
        assert!(pointers.contains(&"/firstName"));
        assert!(pointers.contains(&"/shoeSize"));
        assert!(pointers.contains(&"/businessAddress/planet"));
    }

    #[test]
    fn business_id_needs_its_type_and_a_name() {
        assert_eq!(
            problems(decode_create(
                json!({"email": "a@b.co", "businessIdNo": "51 824 753 556"})
            )),
            vec![(ProblemKind::NotSupplied, "/businessIdNoType".into())]
        );
        assert_eq!(
            problems(decode_create(json!({
                "email": "a@b.co", "businessIdNo": "51 824 753 556", "businessIdNoType": "ABN"
            }))),
            vec![(ProblemKind::NotSupplied, "/businessName".into())]
        );
        let user = decode_create(json!({
            "email": "a@b.co", "businessIdNo": "51 824 753 556", "businessIdNoType": "ABN",
            "businessName": "Hooli"
        }))
        .unwrap();
        assert_eq!(
            user.business.business_id_no.unwrap().as_str(),
            "51824753556"
        );
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let patch = decode_patch(json!({"firstName": null, "lastName": "Bighetti"})).unwrap();
        assert_eq!(patch.first_name, Patch::Clear);
        assert_eq!(patch.middle_name, Patch::Keep);
        assert_eq!(patch.last_name.as_set().unwrap().as_str(), "Bighetti");
    }

    #[test]
    fn patch_cannot_drop_both_contacts_or_be_empty() {
        assert_eq!(
            problems(decode_patch(json!({"email": null, "mobile": ""}))),
            vec![(ProblemKind::NotValid, "/email".into())]
        );
        assert_eq!(
            problems(decode_patch(json!({}))),
            vec![(ProblemKind::NotSupplied, "/".into())]
        );
    }

    #[test]
    fn pointers_escape_member_names() {
        assert_eq!(
            problems(decode_create(json!({"email": "a@b.co", "a/b~c": 1}))),
            vec![(ProblemKind::NotValid, "/a~1b~0c".into())]
        );
    }

    #[test]
    fn non_objects_are_rejected() {
        for body in [json!([]), json!("x"), json!(1), json!(null)] {
            assert_eq!(
                problems(decode_create(body)),
                vec![(ProblemKind::NotValid, "/".into())]
            );
        }
    }
}
