// The comparison peer for bench/signaling: the GStreamer webrtc examples
// protocol (HELLO, ROOM, ROOM_PEER_MSG) on Node.js with the ws library, the
// most used WebSocket server in JavaScript. Only what the benchmark drives.
//   node ws_relay_peer.js PORT
'use strict';
const {WebSocketServer} = require('ws');

const port = Number(process.argv[2]);
const peers = new Map();  // uid -> {ws, room}
const rooms = new Map();  // room -> Set(uid)
const server = new WebSocketServer({host: '127.0.0.1', port, perMessageDeflate: false});

server.on('connection', (ws) => {
  let uid = null;
  ws.on('message', (data) => {
    const text = data.toString();
    if (uid === null) {
      const [command, id] = text.split(' ');
      if (command !== 'HELLO' || !id || peers.has(id)) return ws.close(1002, 'invalid peer uid');
      uid = id;
      peers.set(uid, {ws, room: null});
      return ws.send('HELLO');
    }
    const self = peers.get(uid);
    if (self.room === null) {
      const [command, room] = text.split(' ');
      if (command !== 'ROOM' || !room) return ws.send('ERROR invalid command');
      const members = rooms.get(room) || new Set();
      rooms.set(room, members);
      ws.send('ROOM_OK ' + [...members].join(' '));
      for (const other of members) peers.get(other).ws.send('ROOM_PEER_JOINED ' + uid);
      members.add(uid);
      self.room = room;
      return;
    }
    if (text.startsWith('ROOM_PEER_MSG ')) {
      const space = text.indexOf(' ', 14);
      const target = peers.get(text.slice(14, space));
      if (!target || target.room !== self.room) return ws.send('ERROR peer not found');
      return target.ws.send('ROOM_PEER_MSG ' + uid + text.slice(space));
    }
    ws.send('ERROR invalid msg, already in room');
  });
  ws.on('close', () => {
    if (uid === null) return;
    const self = peers.get(uid);
    peers.delete(uid);
    if (self.room !== null) {
      const members = rooms.get(self.room);
      members.delete(uid);
      for (const other of members) peers.get(other).ws.send('ROOM_PEER_LEFT ' + uid);
      if (members.size === 0) rooms.delete(self.room);
    }
  });
});
server.on('listening', () => console.log(`listening on ws://127.0.0.1:${port}/`));
process.on('SIGTERM', () => process.exit(0));
