// bench/node-baseline/server.js - the CoUp signaling contract on Node.js
// Socket.IO 4.x, as the server coup-gateway replaces: ONE process, the default
// in-memory adapter, rooms through socket.join and broadcasts through
// io.to(room).emit. It is the baseline bench/run measures coup-gateway
// against (issue 5), not a product: the "as before" behaviour of
// /work/shared/contract.md sections 2 and 6, none of the "new" checks (no
// error codes, no rate limit, no room capacity, membership checked only by
// video:join-room in production), plus the events the CoUp app sends today.
//
// Configuration from the environment, the same keys as coup-gateway: PORT,
// HOST, NODE_ENV, NEXTJS_URL, ALLOWED_ORIGINS, PING_INTERVAL_MS,
// PING_TIMEOUT_MS, MAX_PAYLOAD, AUTH_TIMEOUT_MS, LOG_LEVEL (error silences
// the development-mode warning each let-through user gets). Prints
// "listening on <host>:<port>" once it accepts connections.

import http from 'node:http';
import { Server } from 'socket.io';

function intEnv(name, def) {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v)) {
    console.error(`node-baseline: ${name}: not a non-negative integer: ${v}`);
    process.exit(2);
  }
  return Number(v);
}

const PORT = intEnv('PORT', 4000);
const HOST = process.env.HOST || undefined; // all interfaces
const NODE_ENV = process.env.NODE_ENV || 'development';
if (NODE_ENV !== 'development' && NODE_ENV !== 'production') {
  console.error(`node-baseline: NODE_ENV: must be development or production: ${NODE_ENV}`);
  process.exit(2);
}
const DEV = NODE_ENV === 'development';
const NEXTJS_URL = (process.env.NEXTJS_URL || 'http://localhost:3000').replace(/\/+$/, '');
const ALLOWED_ORIGINS = (process.env.ALLOWED_ORIGINS || 'http://localhost:3000')
  .split(',').map((s) => s.trim()).filter(Boolean);
const AUTH_TIMEOUT_MS = intEnv('AUTH_TIMEOUT_MS', 5000);
const LOG_LEVEL = process.env.LOG_LEVEL || 'info';
if (!['debug', 'info', 'warn', 'error'].includes(LOG_LEVEL)) {
  console.error(`node-baseline: LOG_LEVEL: must be debug, info, warn or error: ${LOG_LEVEL}`);
  process.exit(2);
}
const warn = LOG_LEVEL === 'error' ? () => {} : (msg) => console.warn(`node-baseline: ${msg}`);
const started = Date.now();

function corsHeaders(req) {
  const origin = req.headers.origin;
  if (!origin) return {};
  if (ALLOWED_ORIGINS.includes('*') || ALLOWED_ORIGINS.includes(origin)) {
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' };
  }
  return {};
}

// socket.io answers /socket.io/ itself; every other request comes here.
const httpServer = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  const json = (code, body) => {
    res.writeHead(code, { 'Content-Type': 'application/json', ...corsHeaders(req) });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && url === '/health') {
    json(200, {
      status: 'ok',
      connections: io.engine.clientsCount,
      uptime: process.uptime(),
      timestamp: new Date().toISOString(),
    });
  } else if (req.method === 'GET' && url === '/metrics') {
    const roomDetails = [];
    for (const [name, members] of io.sockets.adapter.rooms) {
      if (name.startsWith('video:') || name.startsWith('study:')) {
        roomDetails.push({ name, participants: members.size });
      }
    }
    json(200, {
      connections: io.engine.clientsCount,
      rooms: roomDetails.length,
      roomDetails,
      memory: process.memoryUsage(),
      uptime: process.uptime(),
    });
  } else {
    json(404, { error: 'Not found' });
  }
});

const io = new Server(httpServer, {
  cors: { origin: ALLOWED_ORIGINS.includes('*') ? true : ALLOWED_ORIGINS, credentials: true },
  pingInterval: intEnv('PING_INTERVAL_MS', 25000),
  pingTimeout: intEnv('PING_TIMEOUT_MS', 60000),
  maxHttpBufferSize: intEnv('MAX_PAYLOAD', 1000000),
});

function post(path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(`${NEXTJS_URL}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(AUTH_TIMEOUT_MS),
  });
}

// ------------------------------------------------------ authentication (§2)

io.use(async (socket, next) => {
  const auth = socket.handshake.auth || {};
  const { userId, token } = auth;
  if (!userId || (typeof userId !== 'string' && typeof userId !== 'number')) {
    return next(new Error('Authentication required: userId missing'));
  }
  let res;
  let data;
  try {
    res = await post('/api/auth/verify', { userId: String(userId) }, token);
    if (res.ok) data = await res.json();
  } catch (err) {
    if (DEV) {
      warn(`auth API unreachable (${err.cause?.code || err.cause?.errors?.[0]?.code || err.name}), development: letting ${userId} in`);
      socket.data.userId = String(userId);
      socket.data.user = { id: String(userId), name: `User ${userId}`, email: null, avatar: null };
      return next();
    }
    return next(new Error('Failed to authenticate with server'));
  }
  if (!res.ok) return next(new Error('Authentication failed'));
  const u = data && data.user;
  if (!u || u.status !== 'ACTIVE') return next(new Error('User not found or inactive'));
  socket.data.userId = u.id;
  socket.data.user = { id: u.id, name: u.name, email: u.email, avatar: u.avatar };
  next();
});

// ------------------------------------------------------------- events (§6)

// video:<roomId> -> Map(socketId -> participant with its media flags)
const videoRooms = new Map();
const now = () => new Date().toISOString();

io.on('connection', (socket) => {
  const userId = socket.data.userId;
  const user = socket.data.user;
  const fail = (message) => socket.emit('error', { message });
  const participant = (roomId) => videoRooms.get(`video:${roomId}`)?.get(socket.id);

  // ---- video
  socket.on('video:join-room', async ({ studyId, roomId } = {}) => {
    try {
      if (!DEV) {
        let res;
        try {
          res = await post(`/api/studies/${studyId}/check-member`, { userId });
        } catch {
          return fail('멤버십 확인에 실패했습니다.');
        }
        if (!res.ok) return fail('접근 권한이 없습니다.');
      }
      const room = `video:${roomId}`;
      socket.join(room);
      let members = videoRooms.get(room);
      if (!members) videoRooms.set(room, (members = new Map()));
      const participants = [];
      for (const p of members.values()) if (p.socketId !== socket.id) participants.push(p);
      members.set(socket.id, {
        socketId: socket.id, userId, user,
        isMuted: false, isVideoOff: false, isSharingScreen: false, joinedAt: now(),
      });
      socket.emit('video:room-state', { participants });
      socket.to(room).emit('video:user-joined', { socketId: socket.id, userId, user });
    } catch (err) {
      console.error('node-baseline: join-room:', err);
      fail('방 입장에 실패했습니다.');
    }
  });

  const leaveVideo = (room) => {
    const members = videoRooms.get(room);
    if (members) {
      members.delete(socket.id);
      if (members.size === 0) videoRooms.delete(room);
    }
    socket.to(room).emit('video:user-left', { socketId: socket.id, userId });
  };

  socket.on('video:leave-room', ({ roomId } = {}) => {
    const room = `video:${roomId}`;
    socket.leave(room);
    leaveVideo(room);
  });

  for (const kind of ['offer', 'answer', 'ice-candidate']) {
    const field = kind === 'ice-candidate' ? 'candidate' : kind;
    socket.on(`video:${kind}`, (data = {}) => {
      if (!data.to) return;
      io.to(data.to).emit(`video:${kind}`, { from: socket.id, [field]: data[field] });
    });
  }

  socket.on('video:toggle-audio', ({ roomId, isMuted } = {}) => {
    const p = participant(roomId);
    if (p) p.isMuted = isMuted;
    socket.to(`video:${roomId}`).emit('video:peer-audio-changed', { socketId: socket.id, userId, isMuted });
  });
  socket.on('video:toggle-video', ({ roomId, isVideoOff } = {}) => {
    const p = participant(roomId);
    if (p) p.isVideoOff = isVideoOff;
    socket.to(`video:${roomId}`).emit('video:peer-video-changed', { socketId: socket.id, userId, isVideoOff });
  });
  for (const [ev, sharing, named] of [
    ['video:screen-share-start', true, 'video:screen-share-started'],
    ['video:screen-share-stop', false, 'video:screen-share-stopped'],
  ]) {
    socket.on(ev, ({ roomId } = {}) => {
      const p = participant(roomId);
      if (p) p.isSharingScreen = sharing;
      const to = socket.to(`video:${roomId}`);
      to.emit('video:peer-screen-share', { socketId: socket.id, userId, isSharing: sharing });
      to.emit(named, { socketId: socket.id, userId });
    });
  }
  socket.on('video:speaking', ({ roomId, speaking } = {}) => {
    socket.to(`video:${roomId}`).emit('video:user-speaking', { socketId: socket.id, userId, speaking });
  });

  // ---- chat
  socket.on('chat:send-message', ({ studyId, message, type = 'text' } = {}) => {
    try {
      const messageId = `msg_${Date.now()}_${socket.id}`;
      io.to(`study:${studyId}`).emit('chat:message-received', {
        id: messageId, studyId, userId, user, message, type, timestamp: now(), socketId: socket.id,
      });
      socket.emit('chat:message-sent', { success: true, messageId });
    } catch (err) {
      socket.emit('chat:message-sent', { success: false, error: String(err.message || err) });
    }
  });
  socket.on('chat:video-message', ({ roomId, message } = {}) => {
    io.to(`video:${roomId}`).emit('chat:video-message-received', {
      id: `vmsg_${Date.now()}_${socket.id}`, roomId, userId, user, message, timestamp: now(), socketId: socket.id,
    });
  });
  socket.on('chat:video-file', ({ roomId, file } = {}) => {
    io.to(`video:${roomId}`).emit('chat:video-file-received', {
      id: `vfile_${Date.now()}_${socket.id}`, roomId, userId, user, type: 'file', file, timestamp: now(), socketId: socket.id,
    });
  });
  socket.on('chat:file-uploaded', ({ studyId, file } = {}) => {
    io.to(`study:${studyId}`).emit('chat:message-received', {
      id: `file_${Date.now()}_${socket.id}`, studyId, userId, user, type: 'file', file, timestamp: now(),
    });
  });
  socket.on('chat:typing', ({ studyId, isTyping } = {}) => {
    socket.to(`study:${studyId}`).emit('chat:user-typing', { userId, user, isTyping });
  });
  socket.on('chat:mark-read', () => {});

  // ---- presence
  socket.on('presence:join-study', ({ studyId } = {}) => {
    const room = `study:${studyId}`;
    socket.join(room);
    socket.to(room).emit('presence:user-online', { userId, user, timestamp: now() });
    const onlineCount = io.sockets.adapter.rooms.get(room)?.size || 0;
    socket.emit('presence:study-joined', { studyId, onlineCount });
  });
  socket.on('presence:leave-study', ({ studyId } = {}) => {
    const room = `study:${studyId}`;
    socket.leave(room);
    socket.to(room).emit('presence:user-offline', { userId, user, timestamp: now() });
  });
  socket.on('presence:status-change', ({ status } = {}) => {
    for (const room of socket.rooms) {
      if (room.startsWith('study:')) {
        socket.to(room).emit('presence:user-status-changed', { userId, user, status });
      }
    }
  });

  // Every video room of the socket hears that it left (as before; study
  // rooms hear nothing, as before).
  socket.on('disconnecting', () => {
    for (const room of socket.rooms) if (room.startsWith('video:')) leaveVideo(room);
  });
});

httpServer.listen(PORT, HOST, () => {
  const a = httpServer.address();
  console.error(`listening on ${HOST || a.address}:${a.port}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    io.close();
    httpServer.close();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
