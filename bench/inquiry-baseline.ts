import http from 'node:http';
import pg from 'pg';

/**
 * The raw baseline for the public inquiry benchmark: node:http + pg doing the same
 * database work as POST /v1/public/inquiries in one transaction — tenant context, funnel
 * and school lookups, the lead upsert, its stage history, the touchpoint and the audit
 * row — with none of the framework (no routing, validation, problems, rate limit, queue).
 * Run as a child process by bench/inquiry.ts: `BASELINE_DB_URL=… BASELINE_TENANT=… PORT=…`.
 */
const pool = new pg.Pool({ connectionString: process.env.BASELINE_DB_URL, max: 10 });
const tenantId = process.env.BASELINE_TENANT!;

async function record(body: Record<string, string>): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
    await client.query(
      `select key, position, is_terminal from funnel_stages where deleted_at is null`,
    );
    await client.query(
      `select id, name, grade_levels, timezone from org_units
        where id = $1 and kind in ('school', 'microschool', 'campus') and status = 'active' and deleted_at is null`,
      [body.school_id],
    );
    const lead = await client.query<{ id: string }>(
      `insert into leads (tenant_id, guardian_name, email, phone, student_first_name, grade_interest,
                          school_id, stage, consent, message, source)
       values ($1, $2, $3, $4, $5, $6, $7, 'inquiry', true, $8, $9)
       on conflict (tenant_id, lower(email)) where deleted_at is null do nothing
       returning id`,
      [
        tenantId,
        body.guardian_name,
        body.email,
        body.phone,
        body.student_first_name,
        body.grade_interest,
        body.school_id,
        body.message,
        body.utm_source,
      ],
    );
    const leadId = lead.rows[0]!.id;
    await client.query(
      `insert into lead_stage_history (tenant_id, lead_id, from_stage, to_stage, note)
       values ($1, $2, null, 'inquiry', 'public inquiry')`,
      [tenantId, leadId],
    );
    const tp = await client.query<{ id: string }>(
      `insert into lead_touchpoints (tenant_id, lead_id, kind, channel, utm_source, utm_medium, utm_campaign, details)
       values ($1, $2, 'inquiry', 'web', $3, $4, $5, $6) returning id`,
      [
        tenantId,
        leadId,
        body.utm_source,
        body.utm_medium,
        body.utm_campaign,
        JSON.stringify({ guardian_name: body.guardian_name, phone: body.phone }),
      ],
    );
    await client.query(
      `insert into audit_log (tenant_id, actor_kind, action, entity_type, entity_id, after, request_id)
       values ($1, 'public', 'lead.inquiry', 'lead', $2, $3, $4)`,
      [
        tenantId,
        leadId,
        JSON.stringify({ stage: 'inquiry', created: true, touchpoint_id: tp.rows[0]!.id }),
        crypto.randomUUID(),
      ],
    );
    await client.query('commit');
    return leadId;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (d: Buffer) => chunks.push(d));
  req.on('end', () => {
    let body: Record<string, string>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    record(body).then(
      (id) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ lead_id: id }));
      },
      () => res.writeHead(500).end(),
    );
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('baseline ready'));
process.once('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
