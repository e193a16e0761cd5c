//! The user entity and the values it is made of. Each value type can only be
//! built by parsing, so a `User` that exists is a valid user.

mod business;
mod contact;
mod id;
mod input;
mod text;

pub use business::{AddressInput, BusinessAddress, BusinessIdNo, BusinessIdType, VerificationDate};
pub use contact::{Email, Mobile};
pub use id::UserId;
pub use input::{decode_create, decode_patch};
pub use text::Name;

/// The contact a request removes, when a user would be left with none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    Email,
    Mobile,
}

/// A rule that depends on the stored user, which an update would break.
/// The store finds these out from the user as it was; the edge says where in
/// the request each one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserRule {
    /// Removing this contact would leave the user with neither.
    #[error("A user must keep an email or a mobile.")]
    KeepContact(Contact),
    /// A business id is being set on a user without a business name.
    #[error("businessName is required when businessIdNo is given.")]
    BusinessNameRequired,
    /// The business name is being removed while a business id is set.
    #[error("businessName cannot be removed while businessIdNo is set.")]
    BusinessNameInUse,
}

use serde::{Deserialize, Serialize};

/// A user as stored and returned. Optional fields are absent, never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Mobile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Name>,
    #[serde(flatten)]
    pub business: Business,
    pub created_time: String,
    pub updated_time: String,
    pub version: u64,
}

/// A user as a search result shows it: the fields every search index projects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: UserId,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub middle_name: String,
    #[serde(default)]
    pub last_name: String,
    pub created_time: String,
}

/// The business details of a user, all optional. A business id always comes
/// with its type and with a business name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_id_no: Option<BusinessIdNo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_id_no_type: Option<BusinessIdType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_address: Option<BusinessAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_status: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_date: Option<VerificationDate>,
}

/// A validated create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: Option<Email>,
    pub mobile: Option<Mobile>,
    pub first_name: Option<Name>,
    pub middle_name: Option<Name>,
    pub last_name: Option<Name>,
    pub business: Business,
}

impl NewUser {
    pub fn into_user(self, id: UserId, now: String) -> User {
        User {
            id,
            email: self.email,
            mobile: self.mobile,
            first_name: self.first_name,
            middle_name: self.middle_name,
            last_name: self.last_name,
            business: self.business,
            created_time: now.clone(),
            updated_time: now,
            version: 1,
        }
    }
}

/// What an update does to one field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Absent from the request: left as it is.
    #[default]
    Keep,
    /// Explicit `null` (or an empty string): removed.
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(value) => Some(value),
            _ => None,
        }
    }

    /// The same change, to a value derived from this one.
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(f(value)),
        }
    }
}

/// A business id and its type change together: one cannot be checked without the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessId {
    pub number: BusinessIdNo,
    pub kind: BusinessIdType,
}

/// A validated partial update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserPatch {
    pub email: Patch<Email>,
    pub mobile: Patch<Mobile>,
    pub first_name: Patch<Name>,
    pub middle_name: Patch<Name>,
    pub last_name: Patch<Name>,
    pub business_name: Patch<Name>,
    pub business_id: Patch<BusinessId>,
    pub business_address: Patch<BusinessAddress>,
    pub verification_status: Patch<bool>,
    pub verification_date: Patch<VerificationDate>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self == &UserPatch::default()
    }
}

impl User {
    /// Basiq's `name`: the parts of the name that are set, joined by spaces.
    pub fn full_name(&self) -> String {
        [&self.first_name, &self.middle_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(Name::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}
