//! Administration pages, one file each: users, activity, the registry (and site-wide
//! webhooks), settings, authentication. Here: the header and tabs they share, and the
//! administrators-only gate.

mod activity;
mod authentication;
mod registry;
mod settings;
mod users;

pub use activity::{ActivityPage, ActivityTable};
pub use authentication::AuthenticationPage;
pub use registry::{RegistryPage, WebhooksPage};
pub use settings::SettingsPage;
pub use users::UsersPage;

use leptos::prelude::*;
use leptos_meta::Title;

use super::components::*;
use super::signed_in;
use crate::model::CurrentUser;

/// The top of every admin page: its title, the heading and the tabs across the admin pages.
#[component]
fn AdminHeader(current: &'static str) -> impl IntoView {
    let tabs = [
        ("/admin/users", "Users"),
        ("/admin/activity", "Activity"),
        ("/admin/registry", "Registry"),
        ("/admin/webhooks", "Webhooks"),
        ("/admin/settings", "Settings"),
        ("/admin/authentication", "Authentication"),
    ];
    let title = tabs.iter().find(|(href, _)| *href == current).map_or("Administration", |(_, label)| label);
    view! {
        <Title text=title/>
        <PageHeader title="Administration" subtitle="Users, the activity log, the registry and the site's access settings."/>
        <Tabs label="Administration" tabs=tabs.into_iter().map(|(href, label)| (href.to_string(), label, href == current)).collect()/>
    }
}

/// Renders `page` for administrators only.
fn admin_only<V, F>(page: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    signed_in(move |user| {
        if user.is_admin {
            page(user).into_any()
        } else {
            view! { <ErrorPage error=crate::error::AppError::forbidden("Only administrators may see this page.")/> }
                .into_any()
        }
    })
}
