//! People who sign in through a provider: their accounts, made just in time and linked to
//! the provider's subject, and their name, email and groups following the provider's.

use crate::backend::access::ldap::DirectoryGroup;
use crate::backend::access::principal::{Duty, User};
use crate::backend::access::users;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};

use super::*;

/// A registry-valid username made from what a provider calls the person: lowercase, the
/// domain of an email address left out, other characters become separators, separators not
/// doubled nor at the ends. `None` when nothing valid is left.
pub fn username_from_claim(claim: &str) -> Option<String> {
    let local = claim.split('@').next().unwrap_or("");
    let mut name = String::new();
    for c in local.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if matches!(c, '.' | '_' | '-') {
            if name.ends_with(['.', '_', '-']) || name.is_empty() {
                continue;
            }
            name.push(c);
        } else if !name.is_empty() && !name.ends_with(['.', '_', '-']) {
            name.push('-');
        }
    }
    name.truncate(64);
    let name = name.trim_end_matches(['.', '_', '-']).to_string();
    crate::model::validate_username(&name).is_ok().then_some(name)
}

/// What signing in through a provider comes to.
pub enum Outcome {
    /// The account (found or made), groups synced.
    SignedIn(User),
    /// No account yet, and the claimed name cannot be used: the person chooses one.
    ChooseUsername { suggestion: String },
}

/// Finds or makes the account of `identity` and brings it up to date (name, email, groups,
/// refresh token).
pub async fn sign_in(state: &AppState, identity: &Identity) -> AppResult<Outcome> {
    let linked = sqlx::query_scalar!(
        "select user_id from oidc_identity where provider = $1 and subject = $2",
        identity.provider,
        identity.subject
    )
    .fetch_optional(&state.db)
    .await?;
    if let Some(id) = linked {
        let user = users::find_by_id(&state.db, id).await?.ok_or(AppError::Internal)?;
        return Ok(Outcome::SignedIn(signed_in(state, user, identity).await?));
    }
    let Some(name) = username_from_claim(&identity.claimed_name) else {
        return Ok(Outcome::ChooseUsername { suggestion: String::new() });
    };
    match create(state, identity, &name).await {
        Ok(user) => Ok(Outcome::SignedIn(user)),
        Err(AppError::Invalid { field, .. }) if field == "username" => {
            let suggestion = format!("{name}-{}", identity.provider);
            let free = username_from_claim(&suggestion).filter(|s| *s == suggestion).is_some()
                && users::find_by_username(&state.db, &suggestion).await?.is_none();
            Ok(Outcome::ChooseUsername { suggestion: if free { suggestion } else { String::new() } })
        }
        Err(e) => Err(e),
    }
}

/// Makes the account of `identity` under the name the person chose.
pub async fn create_chosen(state: &AppState, identity: &Identity, username: &str) -> AppResult<User> {
    let username = username.trim().to_ascii_lowercase();
    crate::model::validate_username(&username).map_err(|e| AppError::invalid("username", e))?;
    create(state, identity, &username).await
}

async fn create(state: &AppState, identity: &Identity, username: &str) -> AppResult<User> {
    let user =
        users::insert_vouched(&state.db, username, &identity.display_name, identity.email.as_deref(), "oidc").await?;
    let inserted = sqlx::query!(
        "insert into oidc_identity (provider, subject, user_id) values ($1, $2, $3) on conflict do nothing",
        identity.provider,
        identity.subject,
        user.id
    )
    .execute(&mut *Duty::SignIn.on(&state.db).await?)
    .await?;
    if inserted.rows_affected() == 0 {
        // The same person finished two sign-ins at once: keep the first account.
        users::delete(&mut Duty::SignIn.on(&state.db).await?, user.id).await?;
        return Err(AppError::Conflict("This sign-in already made an account; sign in again.".into()));
    }
    signed_in(state, user, identity).await
}

/// Records a sign-in of a linked account and brings it up to date.
async fn signed_in(state: &AppState, user: User, identity: &Identity) -> AppResult<User> {
    sqlx::query!(
        "update oidc_identity set signed_in_at = now(), checked_at = now(),
                refresh_token = coalesce($3, refresh_token)
         where provider = $1 and subject = $2",
        identity.provider,
        identity.subject,
        identity.sealed_refresh_token
    )
    .execute(&mut *Duty::SignIn.on(&state.db).await?)
    .await?;
    if !user.is_enabled {
        return Err(AppError::forbidden("This account is disabled here. Ask an administrator."));
    }
    follow(state, user, identity).await
}

/// Makes an account follow what its provider says: name, email, groups (teams and
/// administrators, through the group mappings).
pub(super) async fn follow(state: &AppState, user: User, identity: &Identity) -> AppResult<User> {
    users::follow_profile(&state.db, &user, &identity.display_name, identity.email.as_deref()).await?;
    let user = users::find_by_id(&state.db, user.id).await?.ok_or(AppError::Internal)?;
    let groups: Vec<DirectoryGroup> =
        identity.groups.iter().map(|g| DirectoryGroup { dn: g.clone(), name: g.clone() }).collect();
    crate::backend::access::groups::sync(
        state,
        user,
        &crate::backend::access::groups::provider_source(&identity.provider),
        &groups,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_names_become_registry_names() {
        for (claim, name) in [
            ("alice", Some("alice")),
            ("Alice.Smith@corp.example", Some("alice.smith")),
            ("José Núñez", Some("jos-n-ez")),
            ("--x--y__", Some("x-y")),
            ("a", None),
            ("", None),
            ("@corp", None),
            ("Ops Team (EU)", Some("ops-team-eu")),
        ] {
            assert_eq!(username_from_claim(claim).as_deref(), name, "{claim}");
        }
        let long = "x".repeat(100);
        assert_eq!(username_from_claim(&long).map(|n| n.len()), Some(64));
    }
}
