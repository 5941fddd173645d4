//! A bot on chat-client: it joins a room and answers every `!ping` there with `pong`. The
//! client delivers each message exactly once, also across reconnects, so each `!ping` gets one
//! answer; the bot's own messages are recognised by its username and left alone.

use chat_client::{Client, ClientError, Event, Events};

/// What the bot answers `!ping` with.
pub const PONG: &str = "pong";

/// Joins `room` and answers `!ping` until the client stops; returns why it stopped.
pub async fn run(client: Client, mut events: Events, room: &str) -> ClientError {
    if let Err(e) = client.join(room).await {
        return e;
    }
    let mut me = None;
    while let Some(event) = events.next().await {
        match event {
            Event::Connected { user, .. } => me = Some(user.username.into_owned()),
            Event::Message(message)
                if message.body.trim() == "!ping" && me.as_deref() != Some(&*message.author) =>
            {
                // Not awaited: the outbox delivers it, across reconnects too.
                drop(client.send(&message.room, PONG));
            }
            Event::Stopped(error) => return error,
            _ => {}
        }
    }
    ClientError::Closed
}
