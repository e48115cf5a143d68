// demo.js - the demo page's call: a mesh of RTCPeerConnections signaled
// over the CoUp contract's video:* events, with the socket.io-client
// bundle (window.io) served next to it.
//
// Who offers: the newcomer. video:room-state lists the members already
// there, and the newcomer sends each an offer; members answer. So two
// peers never offer to each other at once and no glare handling is
// needed. ICE candidates that arrive before their remote description are
// queued.
//
// URL parameters fill the form and, with auto=1, join at once (the browser
// tests use them): room, user, token, auto.
//
// window.demo exposes the state for tests and for curious people at the
// console; nothing in the page depends on it.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const SPEAKING_LEVEL = 0.02; // RMS of the microphone counted as speech
  const SPEAKING_HOLD_MS = 400; // silence that ends "speaking"

  const state = {
    phase: 'idle', // idle | joining | joined | refused | left | error
    refusal: null, // {code, message} of a refused join
    socket: null,
    selfId: null,
    userId: null,
    room: null,
    roomId: null,
    local: null, // MediaStream from the camera and microphone
    screen: null, // MediaStream from getDisplayMedia while sharing
    muted: false,
    videoOff: false,
    sharing: false,
    speaking: false,
    peers: new Map(), // socketId -> peer (see newPeer)
    chat: [], // {userId, name, message, socketId, timestamp}
    seen: {}, // event name -> how many arrived (for tests)
    recoveries: 0, // reconnections that got the session back
    iceServers: [], // the gateway's (TURN_URLS), from video:room-state
    iceErrors: [], // {errorCode, url} of icecandidateerror events
    audioCtx: null,
    speakingNode: null, // the speaking detector on the audio thread
  };
  window.demo = state;

  // ------------------------------------------------------------ page bits

  function setStatus(text, isError = false) {
    const el = $('status');
    el.textContent = text;
    el.classList.toggle('error', isError);
  }

  function nameOf(user, userId) {
    return (user && user.name) || `User ${userId}`;
  }

  function renderParticipants() {
    const ul = $('participants');
    ul.replaceChildren();
    const rows = [
      { socketId: state.selfId, name: `${nameOf(null, state.userId)} (you)`, muted: state.muted, videoOff: state.videoOff, sharing: state.sharing, speaking: state.speaking, self: true },
      ...[...state.peers.values()].map((p) => ({ socketId: p.socketId, name: nameOf(p.user, p.userId), muted: p.muted, videoOff: p.videoOff, sharing: p.sharing, speaking: p.speaking })),
    ];
    for (const r of rows) {
      const li = document.createElement('li');
      li.dataset.socketId = r.socketId || '';
      li.dataset.muted = String(r.muted);
      li.dataset.videoOff = String(r.videoOff);
      li.dataset.sharing = String(r.sharing);
      li.dataset.speaking = String(r.speaking);
      if (r.self) li.dataset.self = 'true';
      li.classList.toggle('speaking', r.speaking);
      const name = document.createElement('span');
      name.textContent = r.name;
      const flags = document.createElement('span');
      flags.className = 'flags';
      flags.textContent = [r.muted ? 'muted' : '', r.videoOff ? 'camera off' : '', r.sharing ? 'sharing screen' : '', r.speaking ? 'speaking' : '']
        .filter(Boolean)
        .join(', ');
      li.append(name, flags);
      ul.append(li);
    }
    if (state.phase === 'joined' && !$('status').classList.contains('error')) {
      const n = state.peers.size;
      setStatus(`In room "${state.room}" with ${n} other${n === 1 ? '' : 's'}.`);
    }
    $('local-tile').classList.toggle('speaking', state.speaking);
    for (const p of state.peers.values()) {
      p.tile.classList.toggle('speaking', p.speaking);
      p.tile.classList.toggle('video-off', p.videoOff);
      p.caption.textContent = nameOf(p.user, p.userId) + (p.muted ? ' (muted)' : '');
    }
  }

  function addChat(m) {
    state.chat.push(m);
    const li = document.createElement('li');
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = `${m.name}: `;
    li.append(who, document.createTextNode(m.message));
    $('chat-log').append(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  // ---------------------------------------------------------------- media

  async function openLocalMedia() {
    // Camera and microphone, else the microphone alone, else nothing (the
    // call still shows the others).
    for (const c of [{ audio: true, video: { width: 640, height: 480 } }, { audio: true }]) {
      try {
        return await navigator.mediaDevices.getUserMedia(c);
      } catch (err) {
        console.warn('getUserMedia', c, err);
      }
    }
    setStatus('No camera or microphone: you can see and hear the others only.');
    return new MediaStream();
  }

  function outgoingVideo() {
    if (state.sharing && state.screen) return state.screen.getVideoTracks()[0];
    return state.local.getVideoTracks()[0] || null;
  }

  /**
   * ?speaking=frame: speak as the CoUp app does (useVideoCall): while the
   * level is high, video:speaking {speaking:true} on every animation
   * frame (60-144 a second), and {speaking:false} one second after the
   * last. The gateway relays only the changes; this mode shows it can take
   * the app's rate. (Else: only changes are sent, from the audio thread.)
   */
  const SPEAK_EVERY_FRAME = params.get('speaking') === 'frame';
  let frameQuiet = null;

  function speakLikeTheApp(speaking) {
    if (state.phase !== 'joined' || !speaking) return;
    state.socket.emit('video:speaking', { roomId: state.roomId, speaking: true });
    state.speakingSent = (state.speakingSent || 0) + 1;
    if (frameQuiet === null) state.speakingChanges = (state.speakingChanges || 0) + 1;
    clearTimeout(frameQuiet);
    frameQuiet = setTimeout(() => {
      frameQuiet = null;
      if (state.phase !== 'joined') return;
      state.socket.emit('video:speaking', { roomId: state.roomId, speaking: false });
      state.speakingChanges += 1;
    }, 1000);
  }

  function setSpeaking(speaking) {
    if (SPEAK_EVERY_FRAME) return; // the frame loop speaks
    if (speaking === state.speaking) return;
    state.speaking = speaking;
    if (state.phase === 'joined') state.socket.emit('video:speaking', { roomId: state.roomId, speaking });
    renderParticipants();
  }

  /**
   * Watch the microphone's level; tell the room when speaking starts or
   * stops. On the audio thread (speaking-worklet.js) where the browser
   * has AudioWorklet, since a background tab's timers run once a second;
   * else by sampling an analyser.
   */
  async function watchSpeaking() {
    const track = state.local.getAudioTracks()[0];
    if (!track || !window.AudioContext) return;
    const ctx = state.audioCtx || new AudioContext();
    state.audioCtx = ctx;
    ctx.resume().catch(() => {});
    const src = ctx.createMediaStreamSource(new MediaStream([track]));
    if (ctx.audioWorklet && window.AudioWorkletNode && !SPEAK_EVERY_FRAME) {
      try {
        await ctx.audioWorklet.addModule('speaking-worklet.js');
        const node = new AudioWorkletNode(ctx, 'speaking-detector', {
          numberOfInputs: 1,
          numberOfOutputs: 0, // pulled by the browser all the same
          processorOptions: { level: SPEAKING_LEVEL, holdSeconds: SPEAKING_HOLD_MS / 1000 },
        });
        node.port.onmessage = (e) => setSpeaking(Boolean(e.data && e.data.speaking));
        src.connect(node);
        state.speakingNode = node;
        return;
      } catch (err) {
        console.log(`speaking detector: ${err && err.message}; sampling instead`);
      }
    }
    const an = ctx.createAnalyser();
    an.fftSize = 1024;
    src.connect(an);
    const buf = new Float32Array(an.fftSize);
    if (SPEAK_EVERY_FRAME) {
      const frame = () => {
        if (!state.local || state.phase === 'left') return;
        an.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        const loud = Math.sqrt(sum / buf.length) > SPEAKING_LEVEL && !state.muted;
        if (loud !== state.speaking) {
          state.speaking = loud;
          renderParticipants();
        }
        speakLikeTheApp(loud);
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
      return;
    }
    let lastLoud = 0;
    state.levelTimer = setInterval(() => {
      an.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      const now = Date.now();
      if (rms > SPEAKING_LEVEL && !state.muted) lastLoud = now;
      setSpeaking(now - lastLoud < SPEAKING_HOLD_MS);
    }, 100);
  }

  // ---------------------------------------------------------------- peers

  function newPeer(socketId, userId, user, flags = {}) {
    const old = state.peers.get(socketId);
    if (old) return old;
    // The gateway's ICE servers (TURN credentials for this user); with
    // ?relay=1, through TURN only (as behind a NAT that allows nothing
    // else).
    const pc = new RTCPeerConnection({
      iceServers: state.iceServers,
      iceTransportPolicy: params.get('relay') === '1' ? 'relay' : 'all',
    });
    pc.onicecandidateerror = (e) => state.iceErrors.push({ errorCode: e.errorCode, url: e.url });
    const tile = document.createElement('figure');
    tile.className = 'tile remote';
    tile.dataset.socketId = socketId;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement('figcaption');
    tile.append(video, caption);
    $('videos').append(tile);
    const p = {
      socketId, userId, user, pc, video, tile, caption,
      muted: Boolean(flags.isMuted),
      videoOff: Boolean(flags.isVideoOff),
      sharing: Boolean(flags.isSharingScreen),
      speaking: false,
      pendingIce: [],
      stream: null,
    };
    pc.onicecandidate = (e) => {
      if (e.candidate) state.socket.emit('video:ice-candidate', { to: socketId, candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      const stream = e.streams[0] || (p.stream ??= new MediaStream());
      if (!e.streams[0]) stream.addTrack(e.track);
      p.stream = stream;
      if (video.srcObject !== stream) {
        video.srcObject = stream;
        // Sound needs a user gesture in most browsers; the Join click is
        // one. Without it, play muted rather than not at all.
        video.play().catch(() => {
          video.muted = true;
          video.play().catch(() => {});
        });
      }
    };
    pc.onconnectionstatechange = () => {
      console.log(`peer ${socketId}: ${pc.connectionState}`);
    };
    state.peers.set(socketId, p);
    renderParticipants();
    return p;
  }

  function addLocalTracks(p) {
    const audio = state.local.getAudioTracks()[0];
    const video = outgoingVideo();
    if (audio) p.pc.addTrack(audio, state.local);
    else p.pc.addTransceiver('audio', { direction: 'recvonly' });
    if (video) p.pc.addTrack(video, state.local);
    else p.pc.addTransceiver('video', { direction: 'recvonly' });
  }

  function dropPeer(socketId) {
    const p = state.peers.get(socketId);
    if (!p) return;
    p.pc.close();
    p.video.srcObject = null;
    p.tile.remove();
    state.peers.delete(socketId);
    renderParticipants();
  }

  async function flushIce(p) {
    for (const c of p.pendingIce.splice(0)) await p.pc.addIceCandidate(c).catch((e) => console.warn('ice', e));
  }

  async function callPeer(p) {
    addLocalTracks(p);
    await p.pc.setLocalDescription(await p.pc.createOffer());
    state.socket.emit('video:offer', { to: p.socketId, offer: p.pc.localDescription.toJSON() });
  }

  // ------------------------------------------------------------ signaling

  function bindSocket(socket) {
    socket.onAny((event) => {
      state.seen[event] = (state.seen[event] || 0) + 1;
    });
    socket.on('connect', () => {
      if (socket.recovered) {
        // The gateway kept the session through a network blip: the same
        // socket id, still in the room, and what was missed has been
        // delivered; the peers saw nothing, the media never stopped.
        state.recoveries++;
        if (state.phase === 'joined') setStatus(`In room "${state.room}".`);
        return;
      }
      state.selfId = socket.id;
      // A new connection (first, or after the gateway came back without
      // our session) is a new socket id to the room: start over with a
      // fresh join.
      for (const id of [...state.peers.keys()]) dropPeer(id);
      joinRoom();
    });
    socket.on('connect_error', (err) => {
      setStatus(`Cannot connect: ${err.message}`, true);
      if (!socket.active) state.phase = 'error'; // refused by the server: no retry
    });
    socket.on('disconnect', (reason) => {
      if (state.phase === 'joined') setStatus(`Disconnected (${reason}); reconnecting...`, true);
    });
    socket.on('error', (e) => {
      console.warn('error event', e);
      if (state.phase !== 'joined') refuse(e);
      else setStatus(`${e.code || 'error'}: ${e.message}`, true);
    });
    socket.on('video:room-state', ({ participants, iceServers }) => {
      if (state.phase === 'refused' || state.phase === 'left') return;
      if (Array.isArray(iceServers)) state.iceServers = iceServers;
      state.phase = 'joined';
      setStatus(`In room "${state.room}".`);
      for (const m of participants) {
        const p = newPeer(m.socketId, m.userId, m.user, m);
        callPeer(p).catch((e) => console.error('offer', e));
      }
      renderParticipants();
    });
    socket.on('video:user-joined', ({ socketId, userId, user }) => {
      newPeer(socketId, userId, user); // it sends the offer
    });
    socket.on('video:user-left', ({ socketId }) => dropPeer(socketId));
    socket.on('video:offer', async ({ from, offer }) => {
      const known = state.peers.get(from);
      const p = known || newPeer(from, from, null);
      try {
        await p.pc.setRemoteDescription(offer);
        // After the remote description: addTrack then takes the
        // transceivers the offer created instead of making new ones.
        if (p.pc.getSenders().every((s) => !s.track)) {
          const audio = state.local.getAudioTracks()[0];
          const video = outgoingVideo();
          if (audio) p.pc.addTrack(audio, state.local);
          if (video) p.pc.addTrack(video, state.local);
        }
        await flushIce(p);
        await p.pc.setLocalDescription(await p.pc.createAnswer());
        socket.emit('video:answer', { to: from, answer: p.pc.localDescription.toJSON() });
      } catch (e) {
        console.error('answer', e);
      }
    });
    socket.on('video:answer', async ({ from, answer }) => {
      const p = state.peers.get(from);
      if (!p) return;
      try {
        await p.pc.setRemoteDescription(answer);
        await flushIce(p);
      } catch (e) {
        console.error('set answer', e);
      }
    });
    socket.on('video:ice-candidate', async ({ from, candidate }) => {
      const p = state.peers.get(from);
      if (!p || !candidate) return;
      if (!p.pc.remoteDescription) p.pendingIce.push(candidate);
      else await p.pc.addIceCandidate(candidate).catch((e) => console.warn('ice', e));
    });
    const flag = (key, field) => (d) => {
      const p = state.peers.get(d.socketId);
      if (!p) return;
      p[key] = Boolean(d[field]);
      renderParticipants();
    };
    socket.on('video:peer-audio-changed', flag('muted', 'isMuted'));
    socket.on('video:peer-video-changed', flag('videoOff', 'isVideoOff'));
    socket.on('video:peer-screen-share', flag('sharing', 'isSharing'));
    socket.on('video:user-speaking', flag('speaking', 'speaking'));
    socket.on('chat:video-message-received', (m) => {
      addChat({ userId: m.userId, name: nameOf(m.user, m.userId), message: m.message, socketId: m.socketId, timestamp: m.timestamp });
    });
  }

  function refuse(e) {
    state.phase = 'refused';
    state.refusal = { code: e.code, message: e.message };
    setStatus(`Refused: ${e.code} ${e.message}`, true);
    leave(false);
  }

  function joinRoom() {
    state.phase = 'joining';
    setStatus(`Joining "${state.room}"...`);
    state.socket.emit('video:join-room', { studyId: state.room, roomId: state.roomId }, (res) => {
      if (res && res.ok === false) refuse(res);
    });
    // Tell the room what it cannot see in a new offer: our media flags.
    if (state.muted) state.socket.emit('video:toggle-audio', { roomId: state.roomId, isMuted: true });
    if (state.videoOff) state.socket.emit('video:toggle-video', { roomId: state.roomId, isVideoOff: true });
  }

  async function join(room, userId, token) {
    if (typeof window.io !== 'function') {
      setStatus('socket.io.min.js did not load: the server has no copy (run ./install-deps, then make).', true);
      state.phase = 'error';
      return;
    }
    state.room = room;
    state.roomId = `study-${room}-main`; // the CoUp app's room id for a study
    state.userId = userId;
    state.phase = 'joining';
    $('join-form').hidden = true;
    $('call').hidden = false;
    setStatus('Opening camera and microphone...');
    state.local = await openLocalMedia();
    $('local-video').srcObject = state.local;
    watchSpeaking(); // not awaited: the call does not wait for it
    const auth = { userId };
    if (token) auth.token = token;
    state.socket = window.io({ auth, transports: ['websocket', 'polling'] });
    bindSocket(state.socket);
    renderParticipants();
  }

  function leave(tell = true) {
    if (state.socket) {
      if (tell && state.phase === 'joined') state.socket.emit('video:leave-room', { roomId: state.roomId });
      state.socket.disconnect();
    }
    for (const id of [...state.peers.keys()]) dropPeer(id);
    clearInterval(state.levelTimer);
    if (state.speakingNode) {
      state.speakingNode.port.onmessage = null;
      state.speakingNode.disconnect();
      state.speakingNode = null;
    }
    for (const s of [state.local, state.screen]) if (s) for (const t of s.getTracks()) t.stop();
    if (state.phase !== 'refused') {
      state.phase = 'left';
      setStatus('You left the call.');
    }
    $('call').hidden = true;
    $('join-form').hidden = false;
  }

  // ------------------------------------------------------------- controls

  function setMuted(muted) {
    state.muted = muted;
    for (const t of state.local.getAudioTracks()) t.enabled = !muted;
    $('mute').setAttribute('aria-pressed', String(muted));
    $('mute').textContent = muted ? 'Unmute' : 'Mute';
    state.socket.emit('video:toggle-audio', { roomId: state.roomId, isMuted: muted });
    renderParticipants();
  }

  function setVideoOff(off) {
    state.videoOff = off;
    for (const t of state.local.getVideoTracks()) t.enabled = !off;
    $('camera').setAttribute('aria-pressed', String(off));
    $('camera').textContent = off ? 'Camera on' : 'Camera off';
    $('local-tile').classList.toggle('video-off', off);
    state.socket.emit('video:toggle-video', { roomId: state.roomId, isVideoOff: off });
    renderParticipants();
  }

  /** Send `track` instead of the current video on every connection. */
  function replaceVideo(track) {
    for (const p of state.peers.values()) {
      const tr = p.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
      if (tr) tr.sender.replaceTrack(track).catch((e) => console.warn('replaceTrack', e));
    }
  }

  async function setSharing(on) {
    if (on) {
      try {
        state.screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
      } catch (e) {
        setStatus(`Screen share: ${e.message}`, true);
        return;
      }
      const track = state.screen.getVideoTracks()[0];
      track.onended = () => setSharing(false);
      state.sharing = true;
      replaceVideo(track);
      $('local-video').srcObject = state.screen;
      state.socket.emit('video:screen-share-start', { roomId: state.roomId });
    } else {
      if (!state.sharing) return;
      state.sharing = false;
      for (const t of state.screen.getTracks()) t.stop();
      state.screen = null;
      replaceVideo(state.local.getVideoTracks()[0] || null);
      $('local-video').srcObject = state.local;
      state.socket.emit('video:screen-share-stop', { roomId: state.roomId });
    }
    $('share').setAttribute('aria-pressed', String(state.sharing));
    $('share').textContent = state.sharing ? 'Stop sharing' : 'Share screen';
    renderParticipants();
  }

  function sendChat(text) {
    const message = text.trim();
    if (!message || state.phase !== 'joined') return;
    state.socket.emit('chat:video-message', { roomId: state.roomId, message }, (res) => {
      if (res && res.ok === false) setStatus(`Chat: ${res.code} ${res.message}`, true);
    });
  }

  // ---------------------------------------------------------------- start

  $('user').value = params.get('user') || `guest-${Math.random().toString(36).slice(2, 8)}`;
  if (params.get('room')) $('room').value = params.get('room');
  if (params.get('token')) $('token').value = params.get('token');
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    // Made in the click, so the browser lets it run (autoplay policy).
    if (window.AudioContext && !state.audioCtx) state.audioCtx = new AudioContext();
    join($('room').value.trim(), $('user').value.trim(), $('token').value.trim());
  });
  $('mute').addEventListener('click', () => setMuted(!state.muted));
  $('camera').addEventListener('click', () => setVideoOff(!state.videoOff));
  $('share').addEventListener('click', () => setSharing(!state.sharing));
  $('leave').addEventListener('click', () => leave(true));
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sendChat($('chat-input').value);
    $('chat-input').value = '';
  });
  window.addEventListener('pagehide', () => {
    if (state.socket) state.socket.disconnect();
  });
  if (params.get('auto') === '1') join($('room').value.trim(), $('user').value.trim(), $('token').value.trim());

  // For tests: what every remote <video> shows, and how each connection is.
  state.remoteVideos = () =>
    [...state.peers.values()].map((p) => ({
      socketId: p.socketId,
      userId: p.userId,
      connectionState: p.pc.connectionState,
      videoWidth: p.video.videoWidth,
      videoHeight: p.video.videoHeight,
      currentTime: p.video.currentTime,
      muted: p.muted,
      videoOff: p.videoOff,
    }));
  state.setMuted = setMuted;
  state.setVideoOff = setVideoOff;
  state.sendChat = sendChat;
  state.leave = leave;
})();
