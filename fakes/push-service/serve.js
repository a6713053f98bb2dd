// The mock push service for the alerts' push tests: web-push-testing's own
// server (it checks the VAPID token and decrypts with http_ece), started
// the way the tests need it rather than through its CLI, which detaches
// and records its process in a file. Here it listens on 127.0.0.1 only, on
// a port the system picks, and prints that port on its first line:
//
//     node serve.js        ->  "listening on 127.0.0.1:<port>"
//
// It runs until it is killed.
'use strict';

const TestingServer = require('web-push-testing/src/server.js');
const {PushApiModel} = require('web-push-testing/src/PushApiModel.js');

const model = new PushApiModel();
const server = new TestingServer(model, 0);

// web-push-testing listens on every interface and names the endpoint
// `localhost:<port as given>`; bind loopback only and name the real port.
const listen = server._app.listen.bind(server._app);
server._app.listen = (port, started) => {
	const http = listen(port, '127.0.0.1', () => {
		const {port: bound} = http.address();
		model.notifyUrl = `http://127.0.0.1:${bound}/notify/`;
		process.stdout.write(`listening on 127.0.0.1:${bound}\n`);
		started();
	});
	return http;
};
server.startServer();
