import { connect } from 'node:net';
import amqp from 'amqplib';
import pg from 'pg';
import type { Server, Servers } from './types.js';

/** Fails loudly when a server a selected contender needs is unreachable; returns their versions. */
export async function checkServers(servers: Servers, needed: ReadonlySet<Server>): Promise<string[]> {
  const versions: string[] = [];
  if (needed.has('postgres')) versions.push(`PostgreSQL ${await postgresVersion(servers.databaseUrl)}`);
  if (needed.has('rabbitmq')) versions.push(`RabbitMQ ${await rabbitmqVersion(servers.amqpUrl)}`);
  if (needed.has('redis')) versions.push(`Redis ${await redisVersion(servers.redisUrl)}`);
  return versions;
}

async function postgresVersion(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? '(version unknown)';
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${databaseUrl}: ${String(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

async function rabbitmqVersion(amqpUrl: string): Promise<string> {
  try {
    const connection = await amqp.connect(amqpUrl);
    const properties = (connection.connection as unknown as { serverProperties?: { version?: string } })
      .serverProperties;
    await connection.close();
    return properties?.version ?? '(version unknown)';
  } catch (error) {
    throw new Error(`RabbitMQ is not reachable at ${amqpUrl}: ${String(error)}`);
  }
}

function redisVersion(redisUrl: string): Promise<string> {
  const url = new URL(redisUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const match = /redis_version:([^\r\n]+)/.exec(data);
      if (match) {
        socket.end();
        resolve(match[1]!);
      }
    });
    socket.on('error', (error) =>
      reject(new Error(`Redis is not reachable at ${redisUrl}: ${String(error)}`)),
    );
  });
}
