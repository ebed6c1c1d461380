//! The sync WebSocket as a console opens it, for the tests that talk to it (`mod socket;`).

use futures::SinkExt;
use protocol::ClientFrame;
use switchboard_testkit::TestApp;
use tokio_tungstenite::tungstenite::Message;

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(app: &TestApp) -> Socket {
    let url = format!("{}/v1/sync/ws", app.base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.expect("the WebSocket opens").0
}

pub async fn say(socket: &mut Socket, frame: &ClientFrame) {
    socket.send(Message::Text(serde_json::to_string(frame).unwrap().into())).await.unwrap();
}
