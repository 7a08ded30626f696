namespace OrleansTasks.Jobs.Store;

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
            entry.ExpiresMs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, reindex ? "1" : "0",
            keys.Events, change ?? string.Empty,
        ]);
    }

    // Removes a job's entries from every index; s and t are its stored status and type (nil for a job stored
    // without index fields, which has none).
    private const string Unindex =
        """
        local function unindex(p, id, s, t)
          redis.call('ZREM', p .. 'exp', id)
          if s then
            redis.call('ZREM', p .. 's/' .. s, id)
            if t then redis.call('ZREM', p .. 'st/' .. s .. '/' .. t, id) end
          end
        end

        """;

    /// <summary>
    /// KEYS[1] job key. ARGV: 1 expected etag ('' for none), 2 new etag, 3 state, 4 partition prefix, 5 id,
    /// 6 status, 7 type, 8 created ms, 9 expiry ms or '', 10 '1' to rewrite every index entry (reindex; a plain write
    /// moves only what its change moves), 11 the live-events channel prefix (the job's channel is it followed by the
    /// id), 12 the change to publish there or ''. Returns -1 on an etag mismatch, else 0.
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
        local s, t, c, all = ARGV[6], ARGV[7], ARGV[8], ARGV[10] == '1'
        if all or not cur[2] or cur[3] ~= t then
          -- New (or stored without index fields, or its type changed): every entry.
          if cur[2] then
            redis.call('ZREM', p .. 's/' .. cur[2], id)
            if cur[3] then redis.call('ZREM', p .. 'st/' .. cur[2] .. '/' .. cur[3], id) end
          end
          redis.call('ZADD', p .. 's/' .. s, c, id)
          redis.call('ZADD', p .. 'st/' .. s .. '/' .. t, c, id)
        elseif cur[2] ~= s then
          -- The usual write: only the status moves (creation time and type never change).
          redis.call('ZREM', p .. 's/' .. cur[2], id)
          redis.call('ZREM', p .. 'st/' .. cur[2] .. '/' .. t, id)
          redis.call('ZADD', p .. 's/' .. s, c, id)
          redis.call('ZADD', p .. 'st/' .. s .. '/' .. t, c, id)
        end
        -- Fields an earlier layout stored (creation time, a listing summary): listings now read the state itself.
        if all then redis.call('HDEL', key, 'c', 'm') end
        if ARGV[9] ~= '' then
          if all or cur[4] ~= ARGV[9] then redis.call('ZADD', p .. 'exp', ARGV[9], id) end
          redis.call('HSET', key, 'etag', ARGV[2], 'data', ARGV[3], 's', s, 't', t, 'x', ARGV[9])
        else
          if all or cur[4] then
            redis.call('ZREM', p .. 'exp', id)
            redis.call('HDEL', key, 'x')
          end
          redis.call('HSET', key, 'etag', ARGV[2], 'data', ARGV[3], 's', s, 't', t)
        end
        if ARGV[12] ~= '' then redis.call('PUBLISH', ARGV[11] .. id, ARGV[12]) end
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
    /// Each set is walked newest first (entries at the cursor's score with an id at or above the cursor's are
    /// skipped), then the sets are merged as <see cref="IndexStream.Merge"/> merges partitions, so a partition answers
    /// at most a page however many sets the filter reads. Returns { done (1 when the partition has nothing more),
    /// frontier ms, frontier id, n, id1, ms1, ... }: everything the partition did not return lies strictly after the
    /// frontier.
    /// </summary>
    public const string List =
        """
        local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[7])
        local cs = nil
        if ARGV[2] ~= '' then cs = tonumber(ARGV[2]) end
        local cid, pre = ARGV[3], ARGV[6]
        -- Byte order, as Redis orders members of equal score and the store compares ids (Lua's own string comparison
        -- follows the server's collation locale).
        local function below(a, b)
          local n = math.min(#a, #b)
          for i = 1, n do
            local x, y = string.byte(a, i), string.byte(b, i)
            if x ~= y then return x < y end
          end
          return #a < #b
        end
        -- Listing order: newer first, then the greater id.
        local function first(s1, id1, s2, id2)
          if s1 ~= s2 then return s1 > s2 end
          return below(id2, id1)
        end
        local entries, bound = {}, nil
        for _, key in ipairs(KEYS) do
          local found, scanned, off, done = 0, 0, 0, false
          local fs, fid = nil, nil
          while true do
            local chunk = redis.call('ZREVRANGEBYSCORE', key, ARGV[1], ARGV[4], 'WITHSCORES', 'LIMIT', off, 100)
            for i = 1, #chunk, 2 do
              local id, sc = chunk[i], tonumber(chunk[i + 1])
              scanned = scanned + 1
              fs, fid = sc, id
              local atCursor = cs ~= nil and sc == cs and not below(id, cid)
              if not atCursor and (pre == '' or string.sub(id, 1, #pre) == pre) then
                found = found + 1
                entries[#entries + 1] = { sc, id }
              end
              if found >= limit or scanned >= budget then break end
            end
            if #chunk < 200 and found < limit and scanned < budget then done = true end
            if done or found >= limit or scanned >= budget then break end
            off = off + 100
          end
          -- The newest frontier among sets that stopped early bounds what the partition can answer now.
          if not done and fs and (bound == nil or first(fs, fid, bound[1], bound[2])) then bound = { fs, fid } end
        end
        table.sort(entries, function(a, b) return first(a[1], a[2], b[1], b[2]) end)
        local page = {}
        for _, e in ipairs(entries) do
          if #page == limit or (bound and first(bound[1], bound[2], e[1], e[2])) then break end
          page[#page + 1] = e
        end
        local out = { 1, '', '', #page }
        if #entries > #page or bound then
          local last = bound
          if #page == limit then last = page[#page] end
          out[1], out[2], out[3] = 0, last[1], last[2]
        end
        for _, e in ipairs(page) do
          out[#out + 1] = e[2]
          out[#out + 1] = e[1]
        end
        return out
        """;
}
