namespace OrleansTasks.Jobs;

/// <summary>
/// The Lua the Redis job store runs. Each script touches one partition (one hash slot): the job key it is given and
/// index keys it builds from the partition prefix (<c>ARGV</c>), all under the same hash tag.
/// </summary>
internal static class RedisJobScripts
{
    /// <summary>
    /// Runs <see cref="Write"/> for one job: the store's writes (<paramref name="reindex"/> false) and the reindex's
    /// rewrites (true) share it, so both always pass the same arguments.
    /// </summary>
    public static Task<StackExchange.Redis.RedisResult> WriteAsync(StackExchange.Redis.IDatabase db, JobKeys keys, JobIndexEntry entry,
        string expectedEtag, string newEtag, StackExchange.Redis.RedisValue data, bool reindex, string? change = null)
    {
        var prefix = keys.Prefix(JobKeys.PartitionOf(entry.Id));
        return db.ScriptEvaluateAsync(Write, [JobKeys.JobIn(prefix, entry.Id)],
        [
            expectedEtag, newEtag, data, prefix, entry.Id, entry.StatusName, entry.Type, entry.CreatedMs,
            entry.ExpiresMs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, entry.SummaryJson, reindex ? "1" : "0",
            keys.Events, change ?? string.Empty,
        ]);
    }

    // Removes a job's entries from every index; s and t are its stored status and type (nil for a job stored
    // without index fields, which has none).
    private const string Unindex =
        """
        local function unindex(p, id, s, t)
          redis.call('ZREM', p .. 'all', id)
          redis.call('ZREM', p .. 'exp', id)
          if s then
            redis.call('ZREM', p .. 's/' .. s, id)
            if t then redis.call('ZREM', p .. 'st/' .. s .. '/' .. t, id) end
          end
          if t then redis.call('ZREM', p .. 't/' .. t, id) end
        end

        """;

    /// <summary>
    /// KEYS[1] job key. ARGV: 1 expected etag ('' for none), 2 new etag, 3 state, 4 partition prefix, 5 id,
    /// 6 status, 7 type, 8 created ms, 9 expiry ms or '', 10 summary, 11 '1' to rewrite every index entry (reindex;
    /// a plain write moves only what its change moves), 12 the live-events channel prefix (the job's channel is it followed by the id), 13 the change to publish there or ''.
    /// Returns -1 on an etag mismatch, else 0.
    /// </summary>
    public const string Write =
        """
        local key, p, id = KEYS[1], ARGV[4], ARGV[5]
        local cur = redis.call('HMGET', key, 'etag', 's', 't', 'x')
        local etag = cur[1]
        if etag and etag ~= '' then
          if etag ~= ARGV[1] then return -1 end
        elseif ARGV[1] ~= '' then
          return -1
        end
        local s, t, c, all = ARGV[6], ARGV[7], ARGV[8], ARGV[11] == '1'
        if all or not cur[2] or cur[3] ~= t then
          -- New (or stored without index fields, or its type changed): every entry.
          if cur[2] then
            redis.call('ZREM', p .. 's/' .. cur[2], id)
            redis.call('ZREM', p .. 'st/' .. cur[2] .. '/' .. cur[3], id)
            redis.call('ZREM', p .. 't/' .. cur[3], id)
          end
          redis.call('ZADD', p .. 'all', c, id)
          redis.call('ZADD', p .. 't/' .. t, c, id)
          redis.call('ZADD', p .. 's/' .. s, c, id)
          redis.call('ZADD', p .. 'st/' .. s .. '/' .. t, c, id)
        elseif cur[2] ~= s then
          -- The usual write: only the status moves (creation time and type never change).
          redis.call('ZREM', p .. 's/' .. cur[2], id)
          redis.call('ZREM', p .. 'st/' .. cur[2] .. '/' .. t, id)
          redis.call('ZADD', p .. 's/' .. s, c, id)
          redis.call('ZADD', p .. 'st/' .. s .. '/' .. t, c, id)
        end
        if ARGV[9] ~= '' then
          if all or cur[4] ~= ARGV[9] then redis.call('ZADD', p .. 'exp', ARGV[9], id) end
          redis.call('HSET', key, 'etag', ARGV[2], 'data', ARGV[3], 's', s, 't', t, 'c', c, 'm', ARGV[10], 'x', ARGV[9])
        else
          if all or cur[4] then
            redis.call('ZREM', p .. 'exp', id)
            redis.call('HDEL', key, 'x')
          end
          redis.call('HSET', key, 'etag', ARGV[2], 'data', ARGV[3], 's', s, 't', t, 'c', c, 'm', ARGV[10])
        end
        if ARGV[13] and ARGV[13] ~= '' then redis.call('PUBLISH', ARGV[12] .. id, ARGV[13]) end
        return 0
        """;

    /// <summary>
    /// KEYS[1] job key. ARGV: 1 expected etag ('*' for any), 2 partition prefix, 3 id. A job already gone is not a
    /// conflict (the retention sweeper may have removed it first). Returns -1 on an etag mismatch, else 0.
    /// </summary>
    public const string Delete = Unindex +
        """
        local cur = redis.call('HMGET', KEYS[1], 'etag', 's', 't')
        if not cur[1] then return 0 end
        if ARGV[1] ~= '*' and cur[1] ~= ARGV[1] then return -1 end
        unindex(ARGV[2], ARGV[3], cur[2], cur[3])
        redis.call('DEL', KEYS[1])
        return 0
        """;

    /// <summary>
    /// KEYS[1] the partition's expiry set. ARGV: 1 partition prefix, 2 now ms, 3 most to remove. Removes jobs whose
    /// stored expiry has passed (an entry left by a job that was requeued since is dropped). Returns how many.
    /// </summary>
    public const string Sweep = Unindex +
        """
        local p, now = ARGV[1], tonumber(ARGV[2])
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
        local n = 0
        for _, id in ipairs(ids) do
          local key = p .. 'job/' .. id
          local cur = redis.call('HMGET', key, 's', 't', 'x')
          if cur[3] and tonumber(cur[3]) <= now then
            unindex(p, id, cur[1], cur[2])
            redis.call('DEL', key)
            n = n + 1
          else
            redis.call('ZREM', KEYS[1], id)
          end
        end
        return n
        """;

    /// <summary>
    /// KEYS[1] the partition's set of <c>ARGV[2]</c> jobs. ARGV: 1 partition prefix, 2 status, 3.. ids. Removes the
    /// given jobs that still have that status. Returns how many.
    /// </summary>
    public const string Trim = Unindex +
        """
        local p, status = ARGV[1], ARGV[2]
        local n = 0
        for i = 3, #ARGV do
          local id = ARGV[i]
          local key = p .. 'job/' .. id
          local cur = redis.call('HMGET', key, 's', 't')
          if cur[1] == status then
            unindex(p, id, cur[1], cur[2])
            redis.call('DEL', key)
            n = n + 1
          end
        end
        return n
        """;

    /// <summary>
    /// KEYS: index sets of one partition. ARGV: 1 highest score (inclusive, or '(ms' exclusive, or '+inf'), 2 cursor
    /// ms or '', 3 cursor id, 4 lowest score ('(ms' or '-inf'), 5 limit, 6 id prefix or '', 7 scan budget per set.
    /// For each set, newest first: entries at the cursor's score with an id at or above the cursor's are skipped.
    /// Returns per set { done (1 when the set has nothing more), frontier ms, frontier id, n, id1, ms1, ... }: the
    /// frontier is the last entry looked at, so everything the set did not return lies strictly after it.
    /// </summary>
    public const string List =
        """
        local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[7])
        local cs = nil
        if ARGV[2] ~= '' then cs = tonumber(ARGV[2]) end
        local cid, pre = ARGV[3], ARGV[6]
        local out = {}
        for _, key in ipairs(KEYS) do
          local found, scanned, off, done = {}, 0, 0, false
          local fs, fid = '', ''
          while true do
            local chunk = redis.call('ZREVRANGEBYSCORE', key, ARGV[1], ARGV[4], 'WITHSCORES', 'LIMIT', off, 100)
            for i = 1, #chunk, 2 do
              local id, sc = chunk[i], chunk[i + 1]
              scanned = scanned + 1
              fs, fid = sc, id
              local atCursor = cs ~= nil and tonumber(sc) == cs and id >= cid
              if not atCursor and (pre == '' or string.sub(id, 1, #pre) == pre) then
                found[#found + 1] = id
                found[#found + 1] = sc
              end
              if #found >= limit * 2 or scanned >= budget then break end
            end
            if #chunk < 200 and (#found < limit * 2 and scanned < budget) then done = true end
            if done or #found >= limit * 2 or scanned >= budget then break end
            off = off + 100
          end
          out[#out + 1] = done and 1 or 0
          out[#out + 1] = fs
          out[#out + 1] = fid
          out[#out + 1] = #found / 2
          for i = 1, #found do out[#out + 1] = found[i] end
        end
        return out
        """;
}
