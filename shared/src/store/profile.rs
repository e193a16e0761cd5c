//! The user profile item: the user's attributes, its keys, and the index
//! attributes that place it in the search indexes.

use super::attrs::{self, is_tombstone, key, s, Item};
use super::expr::Update;
use crate::error::ApiError;
use crate::fold::fold;
use crate::keys::{self, Index, BY_CREATED, BY_EMAIL, BY_FIRST_NAME, BY_LAST_NAME, BY_MOBILE};
use crate::user::{Patch, User, UserId, UserPatch};

/// Maps a user to its profile item and back.
pub struct ProfileItem;

impl ProfileItem {
    pub fn build(user: &User) -> Result<Item, ApiError> {
        let mut item: Item = serde_dynamo::to_item(user)?;
        item.extend(profile_key(&user.id));
        for (attr, value) in index_attributes(user) {
            item.insert(attr.into(), s(value));
        }
        Ok(item)
    }

    /// `None` for a tombstoned profile.
    pub fn parse(item: Item) -> Result<Option<User>, ApiError> {
        if is_tombstone(&item) {
            return Ok(None);
        }
        Ok(Some(serde_dynamo::from_item(item)?))
    }
}

pub(super) fn profile_key(id: &UserId) -> Item {
    key(keys::user_pk(id), keys::PROFILE_SK)
}

/// The attributes that place a profile in the search indexes.
fn index_attributes(user: &User) -> Vec<(&'static str, String)> {
    let mut attrs = vec![
        (BY_CREATED.pk, keys::list_shard(&user.id)),
        (BY_CREATED.sk, keys::list_key(&user.created_time, &user.id)),
    ];
    if let Some(email) = &user.email {
        attrs.push((BY_EMAIL.pk, keys::email_key(email.as_str())));
    }
    if let Some(mobile) = &user.mobile {
        attrs.push((BY_MOBILE.pk, keys::mobile_key(mobile.as_str())));
    }
    for (index, name) in [
        (BY_FIRST_NAME, &user.first_name),
        (BY_LAST_NAME, &user.last_name),
    ] {
        if let Some(name) = name {
            attrs.extend(name_attributes(index, name.as_str(), &user.id));
        }
    }
    attrs
}

fn name_attributes(index: Index, name: &str, id: &UserId) -> Vec<(&'static str, String)> {
    let folded = fold(name);
    match keys::name_shard(&folded) {
        Some(shard) => vec![(index.pk, shard), (index.sk, keys::name_key(&folded, id))],
        None => vec![],
    }
}

/// Every attribute that puts a profile into an index; removing them all
/// takes it out of every index in the same write.
pub(super) const INDEX_ATTRIBUTES: [&str; 8] = [
    BY_CREATED.pk,
    BY_CREATED.sk,
    BY_EMAIL.pk,
    BY_MOBILE.pk,
    BY_FIRST_NAME.pk,
    BY_FIRST_NAME.sk,
    BY_LAST_NAME.pk,
    BY_LAST_NAME.sk,
];

/// The changes a partial update makes to a profile: the fields it names,
/// and the index attributes that follow from them.
pub(super) fn patch_update(id: &UserId, patch: &UserPatch) -> Result<Update, ApiError> {
    let mut u = Update::default();
    u.patch(attrs::EMAIL, &patch.email)?
        .patch(attrs::MOBILE, &patch.mobile)?
        .patch(attrs::FIRST_NAME, &patch.first_name)?
        .patch(attrs::MIDDLE_NAME, &patch.middle_name)?
        .patch(attrs::LAST_NAME, &patch.last_name)?
        .patch(attrs::BUSINESS_NAME, &patch.business_name)?;
    match &patch.business_id {
        Patch::Set(business_id) => {
            u.set(
                attrs::BUSINESS_ID_NO,
                serde_dynamo::to_attribute_value(&business_id.number)?,
            )
            .set(
                attrs::BUSINESS_ID_NO_TYPE,
                serde_dynamo::to_attribute_value(business_id.kind)?,
            );
        }
        Patch::Clear => {
            u.remove(attrs::BUSINESS_ID_NO)
                .remove(attrs::BUSINESS_ID_NO_TYPE);
        }
        Patch::Keep => {}
    }
    u.patch(attrs::BUSINESS_ADDRESS, &patch.business_address)?
        .patch(attrs::VERIFICATION_STATUS, &patch.verification_status)?
        .patch(attrs::VERIFICATION_DATE, &patch.verification_date)?;

    for (index, key) in [
        (BY_EMAIL, patch.email.map(|e| keys::email_key(e.as_str()))),
        (
            BY_MOBILE,
            patch.mobile.map(|m| keys::mobile_key(m.as_str())),
        ),
    ] {
        match key {
            Patch::Set(key) => u.set(index.pk, s(key)),
            Patch::Clear => u.remove(index.pk),
            Patch::Keep => &mut u,
        };
    }
    for (index, name) in [
        (BY_FIRST_NAME, &patch.first_name),
        (BY_LAST_NAME, &patch.last_name),
    ] {
        let attrs = match name {
            Patch::Set(name) => name_attributes(index, name.as_str(), id),
            Patch::Clear => vec![],
            Patch::Keep => continue,
        };
        if attrs.is_empty() {
            u.remove(index.pk).remove(index.sk);
        }
        for (attr, value) in attrs {
            u.set(attr, s(value));
        }
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::{Business, Email, Mobile, Name};

    #[test]
    fn attribute_names_are_the_records_own() {
        let user = User {
            id: UserId::new(),
            email: Some(Email::parse("a@b.co").unwrap()),
            mobile: Some(Mobile::parse("+61410888666").unwrap()),
            first_name: Name::parse("Gavin").unwrap(),
            middle_name: Name::parse("M").unwrap(),
            last_name: Name::parse("Belson").unwrap(),
            business: Business::default(),
            created_time: "2026-01-01T00:00:00.000Z".into(),
            updated_time: "2026-01-01T00:00:00.000Z".into(),
            version: 1,
        };
        let item = ProfileItem::build(&user).unwrap();
        for attr in [
            attrs::ID,
            attrs::EMAIL,
            attrs::MOBILE,
            attrs::FIRST_NAME,
            attrs::MIDDLE_NAME,
            attrs::LAST_NAME,
            attrs::CREATED_TIME,
            attrs::UPDATED_TIME,
            attrs::VERSION,
        ] {
            assert!(item.contains_key(attr), "{attr}");
        }
        for attr in INDEX_ATTRIBUTES {
            assert!(item.contains_key(attr), "{attr}");
        }
        assert_eq!(ProfileItem::parse(item).unwrap(), Some(user));
    }
}
