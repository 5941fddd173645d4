//! `/api/rooms...` and `/api/me/rooms`: listing, creating, reading and joining rooms, and
//! reading, searching, editing and deleting their messages.

use super::{Ctx, number};
use crate::dispatch::{json_response, no_content};
use crate::error::ApiError;
use crate::views::{self, MessageView, RoomView};
use bytes::Bytes;
use chat_core::{HistoryPage, RoomId, Seq};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Default page size of room lists and message pages.
pub const DEFAULT_LIMIT: usize = 50;

/// Query of `GET /api/rooms`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    /// Only rooms whose name sorts after this one (paging).
    pub after: Option<String>,
    /// Page size.
    pub limit: Option<usize>,
}

/// Body of `POST /api/rooms`.
#[derive(Debug, Deserialize)]
pub struct NewRoomBody {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// Body of `PATCH /api/rooms/{name}`.
#[derive(Debug, Deserialize)]
pub struct RoomPatch {
    /// New description.
    pub description: String,
}

/// Query of `GET /api/rooms/{name}/messages`.
#[derive(Debug, Default, Deserialize)]
pub struct MessagesQuery {
    /// Messages before this seq (older page).
    pub before_seq: Option<i64>,
    /// Messages after this seq (newer page).
    pub after_seq: Option<i64>,
    /// Page size.
    pub limit: Option<usize>,
}

/// Query of `GET /api/rooms/{name}/search`.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQueryParams {
    /// Words to find.
    pub q: Option<String>,
    /// Only messages before this seq.
    pub before_seq: Option<i64>,
    /// Page size.
    pub limit: Option<usize>,
}

/// Body of `PATCH /api/rooms/{name}/messages/{seq}`.
#[derive(Debug, Deserialize)]
pub struct EditBody {
    /// New text.
    pub body: String,
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
struct RoomDetail<'a> {
    room: RoomView<'a>,
    members: Vec<&'a str>,
    online: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct MessagesBody<'a> {
    pub(crate) room: &'a str,
    pub(crate) messages: Vec<MessageView<'a>>,
    pub(crate) has_more: bool,
}

#[derive(Serialize)]
struct MessageBody<'a> {
    message: MessageView<'a>,
}

/// `GET /api/me/rooms` -> `{"rooms"}`: the rooms the user is a member of.
pub async fn mine(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let rooms = ctx.chat.service().my_rooms(&user).await?;
    let views = rooms
        .iter()
        .map(|r| RoomView::of(r).with_member(true))
        .collect();
    Ok(json_response(StatusCode::OK, &RoomsBody { rooms: views }))
}

/// `GET /api/rooms?q=&after=&limit=` -> `{"rooms"}` with `member` flags.
pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let query: ListQuery = ctx.query()?;
    let service = ctx.chat.service();
    let rooms = service
        .list_rooms(
            &user,
            query.q.as_deref(),
            query.after.as_deref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    let mine: HashSet<RoomId> = service
        .my_rooms(&user)
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    let views = rooms
        .iter()
        .map(|r| RoomView::of(r).with_member(mine.contains(&r.id)))
        .collect();
    Ok(json_response(StatusCode::OK, &RoomsBody { rooms: views }))
}

/// `POST /api/rooms` `{"name","description"}` -> 201 `{"room"}`; 409 when the name is taken.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let body: NewRoomBody = ctx.json()?;
    ctx.limit_address(&ctx.chat.limits().room_creations)?;
    let room = ctx
        .chat
        .service()
        .create_room(&user, &body.name, &body.description)
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &RoomBody {
            room: RoomView::of(&room).with_member(true),
        },
    ))
}

/// `GET /api/rooms/{name}` -> `{"room","members","online"}`.
pub async fn get(ctx: &Ctx<'_>, name: &str) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let room = ctx.room(&user, name).await?;
    let service = ctx.chat.service();
    let members = service.members(&user, room.id).await?;
    let member = members.iter().any(|m| m.user_id == user.id);
    Ok(json_response(
        StatusCode::OK,
        &RoomDetail {
            room: RoomView::of(&room).with_member(member),
            members: members.iter().map(|m| m.username.as_str()).collect(),
            online: service.online(room.id),
        },
    ))
}

/// `PATCH /api/rooms/{name}` `{"description"}` -> `{"room"}` (its creator or an admin).
pub async fn update(ctx: &Ctx<'_>, name: &str) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let body: RoomPatch = ctx.json()?;
    let room = ctx.room(&user, name).await?;
    let room = ctx
        .chat
        .service()
        .set_room_description(&user, room.id, &body.description)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &RoomBody {
            room: RoomView::of(&room),
        },
    ))
}

/// `POST /api/rooms/{name}/join` -> `{"room"}`.
pub async fn join(ctx: &Ctx<'_>, name: &str) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let room = ctx.room(&user, name).await?;
    ctx.chat.service().join_room(&user, room.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &RoomBody {
            room: RoomView::of(&room).with_member(true),
        },
    ))
}

/// `POST /api/rooms/{name}/leave` -> 204: ends the membership.
pub async fn leave(ctx: &Ctx<'_>, name: &str) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let room = ctx.room(&user, name).await?;
    ctx.chat.service().leave_room(&user, room.id).await?;
    Ok(no_content())
}

/// `GET /api/rooms/{name}/messages?before_seq=&after_seq=&limit=` ->
/// `{"room","messages","has_more"}`, messages ascending by seq. Without a cursor: the newest
/// page. `has_more` means older messages (newer ones for `after_seq`) exist.
pub async fn messages(ctx: &Ctx<'_>, name: &str, admin: bool) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    if admin && !user.is_admin {
        return Err(ApiError::forbidden("forbidden", "admins only"));
    }
    let query: MessagesQuery = ctx.query()?;
    let room = ctx.room(&user, name).await?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let page = match (query.before_seq, query.after_seq) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "bad_query",
                "give before_seq or after_seq, not both",
            ));
        }
        (Some(seq), None) => HistoryPage::Before {
            seq: Seq(seq),
            limit,
        },
        (None, Some(seq)) => HistoryPage::After {
            seq: Seq(seq),
            limit,
        },
        (None, None) => HistoryPage::Latest { limit },
    };
    let slice = ctx.chat.service().history(&user, room.id, page).await?;
    Ok(json_response(
        StatusCode::OK,
        &MessagesBody {
            room: &room.name,
            messages: views::messages(&room.name, &slice.messages),
            has_more: slice.has_more,
        },
    ))
}

/// `GET /api/rooms/{name}/search?q=&before_seq=&limit=` -> `{"room","messages"}`, newest first.
pub async fn search(ctx: &Ctx<'_>, name: &str) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let query: SearchQueryParams = ctx.query()?;
    ctx.limit_address(&ctx.chat.limits().searches)?;
    let room = ctx.room(&user, name).await?;
    let messages = ctx
        .chat
        .service()
        .search(
            &user,
            room.id,
            query.q.as_deref().unwrap_or(""),
            query.before_seq.map(Seq),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &MessagesBody {
            room: &room.name,
            messages: views::messages(&room.name, &messages),
            has_more: false,
        },
    ))
}

/// `PATCH /api/rooms/{name}/messages/{seq}` `{"body"}` -> `{"message"}` (own messages).
pub async fn edit_message(
    ctx: &Ctx<'_>,
    name: &str,
    seq: &str,
) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let seq = Seq(number(seq)?);
    let body: EditBody = ctx.json()?;
    ctx.limit_user(&user)?;
    let room = ctx.room(&user, name).await?;
    let message = ctx
        .chat
        .service()
        .edit(&user, room.id, seq, &body.body)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &MessageBody {
            message: views::message(&room.name, &message),
        },
    ))
}

/// `DELETE /api/rooms/{name}/messages/{seq}` -> `{"message"}` (own messages; any for admins).
pub async fn delete_message(
    ctx: &Ctx<'_>,
    name: &str,
    seq: &str,
) -> Result<Response<Bytes>, ApiError> {
    let user = ctx.user().await?;
    let seq = Seq(number(seq)?);
    ctx.limit_user(&user)?;
    let room = ctx.room(&user, name).await?;
    let message = ctx.chat.service().delete(&user, room.id, seq).await?;
    Ok(json_response(
        StatusCode::OK,
        &MessageBody {
            message: views::message(&room.name, &message),
        },
    ))
}
