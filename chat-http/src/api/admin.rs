//! `/api/admin/...`: users (list, search, deactivate/reactivate, grant admin), rooms (list,
//! edit description, delete) and messages (browse by room, delete). Admins only: everyone
//! else gets 403 `forbidden`.

use super::{Ctx, number, rooms};
use crate::dispatch::{json_response, no_content};
use crate::error::ApiError;
use crate::views::{self, MessageView, RoomView, UserView};
use bytes::Bytes;
use chat_core::{Seq, User, UserId};
use http::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

/// Query of `GET /api/admin/users`.
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    /// Case-insensitive substring of the username.
    pub q: Option<String>,
    /// Only users with a greater id (paging).
    pub after: Option<i64>,
    /// Page size.
    pub limit: Option<usize>,
}

/// Body of `PATCH /api/admin/users/{id}`: the flags to change.
#[derive(Debug, Default, Deserialize)]
pub struct UserPatch {
    /// Activate or deactivate (ends all sessions).
    pub is_active: Option<bool>,
    /// Grant or revoke admin rights.
    pub is_admin: Option<bool>,
}

#[derive(Serialize)]
struct UsersBody<'a> {
    users: Vec<UserView<'a>>,
}

#[derive(Serialize)]
struct UserBody<'a> {
    user: UserView<'a>,
}

#[derive(Serialize)]
struct RoomsBody<'a> {
    rooms: Vec<RoomView<'a>>,
}

#[derive(Serialize)]
struct RoomBody<'a> {
    room: RoomView<'a>,
}

#[derive(Serialize)]
struct MessageBody<'a> {
    message: MessageView<'a>,
}

async fn admin(ctx: &Ctx<'_>) -> Result<User, ApiError> {
    let user = ctx.user().await?;
    if user.is_admin && user.is_active {
        Ok(user)
    } else {
        Err(ApiError::forbidden("forbidden", "admins only"))
    }
}

/// Routes `/api/admin/{segments}`.
pub(crate) async fn route(ctx: &Ctx<'_>, segments: &[&str]) -> Result<Response<Bytes>, ApiError> {
    let actor = admin(ctx).await?;
    let service = ctx.chat.service();
    match (ctx.method.clone(), segments) {
        (Method::GET, ["users"]) => {
            let q: UsersQuery = ctx.query()?;
            let users = service
                .admin_list_users(
                    &actor,
                    q.q.as_deref(),
                    q.after.map(UserId),
                    q.limit.unwrap_or(rooms::DEFAULT_LIMIT),
                )
                .await?;
            let users = users.iter().map(views::user).collect();
            Ok(json_response(StatusCode::OK, &UsersBody { users }))
        }
        (Method::GET, ["users", id]) => {
            let user = service.admin_user(&actor, UserId(number(id)?)).await?;
            Ok(json_response(
                StatusCode::OK,
                &UserBody {
                    user: views::user(&user),
                },
            ))
        }
        (Method::PATCH, ["users", id]) => {
            let id = UserId(number(id)?);
            let patch: UserPatch = ctx.json()?;
            let mut user = service.admin_user(&actor, id).await?;
            if let Some(active) = patch.is_active {
                user = service.admin_set_active(&actor, id, active).await?;
            }
            if let Some(is_admin) = patch.is_admin {
                user = service.admin_set_admin(&actor, id, is_admin).await?;
            }
            Ok(json_response(
                StatusCode::OK,
                &UserBody {
                    user: views::user(&user),
                },
            ))
        }
        (Method::GET, ["rooms"]) => {
            let q: rooms::ListQuery = ctx.query()?;
            let list = service
                .list_rooms(
                    &actor,
                    q.q.as_deref(),
                    q.after.as_deref(),
                    q.limit.unwrap_or(rooms::DEFAULT_LIMIT),
                )
                .await?;
            let rooms = list.iter().map(RoomView::of).collect();
            Ok(json_response(StatusCode::OK, &RoomsBody { rooms }))
        }
        (Method::PATCH, ["rooms", name]) => {
            let patch: rooms::RoomPatch = ctx.json()?;
            let room = ctx.room(&actor, name).await?;
            let room = service
                .set_room_description(&actor, room.id, &patch.description)
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &RoomBody {
                    room: RoomView::of(&room),
                },
            ))
        }
        (Method::DELETE, ["rooms", name]) => {
            let room = ctx.room(&actor, name).await?;
            service.admin_delete_room(&actor, room.id).await?;
            Ok(no_content())
        }
        (Method::GET, ["rooms", name, "messages"]) => rooms::messages(ctx, name, true).await,
        (Method::DELETE, ["rooms", name, "messages", seq]) => {
            let seq = Seq(number(seq)?);
            let room = ctx.room(&actor, name).await?;
            let message = service.delete(&actor, room.id, seq).await?;
            Ok(json_response(
                StatusCode::OK,
                &MessageBody {
                    message: views::message(&room.name, &message),
                },
            ))
        }
        (_, ["users"] | ["users", _] | ["rooms"] | ["rooms", _] | ["rooms", _, "messages"])
        | (_, ["rooms", _, "messages", _]) => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::not_found()),
    }
}
