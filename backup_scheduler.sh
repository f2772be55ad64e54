#!/usr/bin/env bash
# backup_scheduler.sh: the entrypoint of the AFIRGen backup image (Dockerfile.backup).
#
#   backup_scheduler.sh                 run the service: validate, back up once at start, then cron in the foreground
#   backup_scheduler.sh ARGS...         one-off: python3 /app/backup_database.py ARGS... as the job's user
#                                       (e.g. `docker run --rm ... afirgen-backup status`); a program name
#                                       (sh, bash, ...) is run as given instead
#
# The service, step by step:
#  1. BACKUP_SCHEDULE (default "0 */6 * * *"), BACKUP_SESSIONS_SCHEDULE (default empty), BACKUP_ON_START (default
#     true), BACKUP_STOP_TIMEOUT and TZ are validated here, every other setting by `backup_database.py check-config` (which creates nothing); a bad
#     value ends the container with exit 2 and one line naming the variable in `docker logs`.
#  2. The configuration the container was given (its environment laid over BACKUP_ENV_FILE or /app/.env) is
#     written to /run/afirgen/backup.env by `backup_database.py job-env` (afirgen_backup/actions/job_env.py says
#     how), because cron starts jobs with an almost empty environment.
#     /run/afirgen should be a tmpfs (compose mounts one; `docker run --tmpfs /run/afirgen`): a warning says so
#     when it is not. The cron job gets only BACKUP_ENV_FILE pointing at it.
#  3. BACKUP_DIR is created when missing (install -d, owner afirgen, 0700) and everything in it is given to
#     afirgen; a BACKUP_DIR that is or holds a system directory is refused (exit 2) before that recursive chown.
#     The lock and the log file are created for afirgen. `check-config` is then run a second time exactly as
#     the job will run (user afirgen, empty environment), so that what cron would fail on fails now instead.
#  4. The job's stdout/stderr go to two FIFOs that this script copies to its own stdout/stderr, i.e. to
#     `docker logs`: a job started by cron (as afirgen) cannot open /proc/1/fd/1. backup.log is written by the
#     engine alone, so each event is in it exactly once.
#  5. One backup at start when BACKUP_ON_START is true; then `cron -f` with /etc/cron.d/afirgen-backup
#     ("<schedule> afirgen <command>"). cron reads the schedule in the container's time zone: TZ (default UTC).
#     A second entry runs `status --notify` twice an hour: the alerts' check for backups gone stale between runs.
#     With BACKUP_SESSIONS_SCHEDULE (default empty: none), a third runs `backup --sessions-snapshot` on it: a
#     snapshot of sessions.db alone, kept BACKUP_SESSIONS_SNAPSHOT_HOURS (afirgen_backup/actions/backup.py).
#  6. SIGTERM/SIGINT (docker stop): cron is stopped so that no new job starts, every running backup_database.py
#     (scheduled, start-up or `docker exec`, by absolute or relative path) gets the same signal so that the engine
#     stops mysqldump and removes its .partial files, and this script waits for them, at most
#     BACKUP_STOP_TIMEOUT seconds (default 25) from the signal; what still runs then is killed (SIGKILL) and the
#     script exits 1, else 0. Give the container a longer stop timeout (compose `stop_grace_period: 30s`).
set -uo pipefail

readonly APP=/app/backup_database.py
readonly PYTHON=/opt/venv/bin/python3
readonly JOB_USER=afirgen
readonly RUN_DIR=/run/afirgen
readonly JOB_ENV=$RUN_DIR/backup.env
readonly OUT_FIFO=$RUN_DIR/stdout.fifo
readonly ERR_FIFO=$RUN_DIR/stderr.fifo
readonly CRON_FILE=/etc/cron.d/afirgen-backup
# When `status --notify` looks for backups gone stale (alerts/hooks.py); off the hour, when backups start.
readonly HEALTH_SCHEDULE='17,47 * * * *'
readonly DEFAULT_SCHEDULE='0 */6 * * *'
readonly JOB_PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin

log() { printf '%s backup_scheduler: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
err() { log "$*" >&2; }
die_config() {
  err "configuration error: $*"
  exit 2
}

# --- validation of the scheduler's own settings -----------------------------------------------------------------

readonly MONTH_NAMES=(jan feb mar apr may jun jul aug sep oct nov dec) # 1-12
readonly WEEKDAY_NAMES=(sun mon tue wed thu fri sat)                         # 0-6 (7 is Sunday too)

# cron_number TOKEN MIN MAX [NAMES...]: sets REPLY to the value of one number of a cron field, or fails. Digits
# (leading zeros allowed, as cron allows them) within MIN..MAX, or one of NAMES (the field's three-letter names,
# any case, as cron takes them; the first name stands for MIN). Compared as text first, so that no number is too
# big for bash: cron drops a line with 18446744073709551616 in it, bash would wrap it to 0. A token of 100
# characters or more is refused whatever it says: cron's own buffer drops one of about 1000 zeros and a digit.
cron_number() {
  local token=${1,,} min=$2 max=$3 i
  shift 3
  ((${#token} < 100)) || return 1
  if [[ $token =~ ^0*([0-9]+)$ ]]; then
    REPLY=${BASH_REMATCH[1]}
    ((${#REPLY} <= ${#max} && 10#$REPLY >= min && 10#$REPLY <= max)) || return 1
    REPLY=$((10#$REPLY))
    return 0
  fi
  for ((i = 1; i <= $#; i++)); do
    if [[ $token == "${!i}" ]]; then
      REPLY=$((min + i - 1))
      return 0
    fi
  done
  return 1
}

# check_cron_field VALUE MIN MAX [NAMES...]: one field of a five-field cron schedule: a list of items, each `*`,
# a number or a name, or a range of them, a range or `*` optionally with a /step.
check_cron_field() {
  local value=$1 min=$2 max=$3 item base lo hi step
  shift 3
  local -a items
  [[ -n $value && $value != *, && $value != ,* && $value != *,,* ]] || return 1
  IFS=, read -ra items <<<"$value"
  for item in "${items[@]}"; do
    [[ $item =~ ^(\*|([0-9A-Za-z]+)(-([0-9A-Za-z]+))?)(/([0-9]+))?$ ]] || return 1
    base=${BASH_REMATCH[1]} lo=${BASH_REMATCH[2]} hi=${BASH_REMATCH[4]} step=${BASH_REMATCH[6]}
    if [[ -n $step ]]; then
      [[ $base == '*' || -n $hi ]] || return 1 # "5/10" is not cron syntax; "5-59/10" is
      cron_number "$step" 1 $((max - min + 1)) || return 1
    fi
    [[ $base == '*' ]] && continue
    cron_number "$lo" "$min" "$max" "$@" || return 1
    lo=$REPLY
    if [[ -n $hi ]]; then
      cron_number "$hi" "$min" "$max" "$@" || return 1
      ((lo <= REPLY)) || return 1 # cron takes "fri-mon" but never runs it
    fi
  done
  return 0
}

validate_schedule() {
  local schedule=$1 tab=$'\t'
  local -a fields
  case $schedule in
    @yearly | @annually | @monthly | @weekly | @daily | @midnight | @hourly) return 0 ;;
  esac
  # Only characters of cron's syntax (fields apart by spaces or tabs): no newline, no %, nothing that could add a
  # line or a command to the crontab.
  [[ $schedule != *[!0-9A-Za-z*/,\ "$tab"-]* ]] || return 1
  read -ra fields <<<"$schedule"
  ((${#fields[@]} == 5)) || return 1
  check_cron_field "${fields[0]}" 0 59 &&
    check_cron_field "${fields[1]}" 0 23 &&
    check_cron_field "${fields[2]}" 1 31 &&
    check_cron_field "${fields[3]}" 1 12 "${MONTH_NAMES[@]}" &&
    check_cron_field "${fields[4]}" 0 7 "${WEEKDAY_NAMES[@]}"
}

parse_bool() { # NAME VALUE -> prints true/false, or fails
  case ${2,,} in
    1 | true | yes | on) echo true ;;
    0 | false | no | off) echo false ;;
    *) return 1 ;;
  esac
}

# --- the configuration handed to the cron job ----------------------------------------------------------------

# write_job_env: the configuration for the cron job, written to $JOB_ENV by the engine (`job-env`: the engine's
# settings from the container's environment laid over its .env file, 0600, owned by the job's user, read back
# before use; a Docker secret named by MYSQL_PASSWORD_FILE copied beside it). Prints, each ended by a NUL byte,
# BACKUP_DIR, the log file, sessions.db and the lock's name.
write_job_env() {
  "$PYTHON" "$APP" job-env "$JOB_ENV" --owner "$JOB_USER"
}

# as_job_user CMD...: run CMD as the job's user with the environment cron gives the job (nothing but the file).
as_job_user() {
  env -i HOME=/app PATH="$JOB_PATH" LANG=C.UTF-8 BACKUP_ENV_FILE="$JOB_ENV" \
    setpriv --reuid="$JOB_USER" --regid="$JOB_USER" --init-groups --inh-caps=-all "$@"
}

# --- BACKUP_DIR -----------------------------------------------------------------------------------------------

# backup_dir_refusal DIR SESSIONS_DB: prints why DIR may not be BACKUP_DIR, or nothing. The entrypoint gives
# BACKUP_DIR and everything in it to the job's user at every start, so it must be a directory of the backups' own:
# never a system directory, one inside a system tree, nor one that holds the tool, its run directory or sessions.db.
backup_dir_refusal() {
  local dir sessions_dir protected top
  dir=$(realpath -m -- "$1") || return 0
  local -a systems=(/ /app /bin /boot /data /dev /etc /home /lib /lib32 /lib64 /libx32 /media /mnt /opt /proc
    /root /run /sbin /srv /sys /tmp /usr /var /var/cache /var/lib /var/log /var/spool /var/tmp)
  local -a trees=(/bin /boot /dev /etc /lib /lib32 /lib64 /libx32 /opt/venv /proc /run/afirgen /sbin /sys /usr
    /var/cache /var/lib /var/spool /app/afirgen_backup)
  local -a held=("$APP" /app/afirgen_backup /opt/venv "$RUN_DIR" /etc/cron.d /usr/local/bin/backup_scheduler.sh)
  if [[ -n $2 ]]; then
    sessions_dir=$(realpath -m -- "$(dirname -- "$2")") && held+=("$sessions_dir")
  fi
  for top in "${systems[@]}"; do
    [[ $dir == "$top" ]] && echo "is the system directory $dir" && return 0
  done
  for top in "${trees[@]}"; do
    [[ $dir == "$top"/* ]] && echo "is inside the system directory $top" && return 0
  done
  for protected in "${held[@]}"; do
    [[ $protected == "$dir" || $protected == "$dir"/* ]] && echo "holds $protected" && return 0
  done
  return 0
}

# make_job_dir DIR: create a missing DIR (missing parents too) for the job's user, mode 0700; an existing one is
# left as it is. Prints the reason when it cannot.
make_job_dir() {
  local output
  [[ -e $1 || -L $1 ]] && return 0
  output=$(install -d -o "$JOB_USER" -g "$JOB_USER" -m 0700 -- "$1" 2>&1) && return 0
  printf '%s' "${output##*: }"
  return 1
}

# make_job_file FILE: an empty FILE owned by the job's user, mode 0600, unless it exists. Were a first `docker
# exec` run (as root) to create the lock or the log file, root would own them and every cron job after it would
# fail to open them.
make_job_file() {
  [[ -e $1 || -L $1 ]] && return 0
  install -m 0600 -o "$JOB_USER" -g "$JOB_USER" /dev/null "$1" 2>/dev/null ||
    err "warning: could not create $1 for $JOB_USER; the cron job may not be able to open it"
}

# --- processes ------------------------------------------------------------------------------------------------

# PIDs of every backup_database.py process in the container (cron jobs, the start-up run, docker exec runs): a
# python whose script is /app/backup_database.py, named by its absolute path or a relative one (`docker exec
# afirgen-backup python3 backup_database.py` runs in /app). The image holds no other file of that name, and the
# working directory of a run that switched to the job's user cannot be read here (no CAP_SYS_PTRACE), so the name
# decides.
engine_pids() {
  local dir pid arg
  local -a argv
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    mapfile -d '' -t argv 2>/dev/null <"$dir/cmdline" || continue
    ((${#argv[@]} >= 2)) || continue
    [[ ${argv[0]##*/} == python* ]] || continue
    for arg in "${argv[@]:1}"; do
      if [[ $arg == "$APP" || $arg == backup_database.py || $arg == */backup_database.py ]]; then
        echo "$pid"
        break
      fi
    done
  done
}

# now_ms: the time in milliseconds (for the stop deadline; SECONDS counts whole seconds only).
now_ms() {
  local now=${EPOCHREALTIME/[.,]/}
  echo $((10#$now / 1000))
}

CRON_PID=
START_PID=
READER_PIDS=()
STOPPING=

# alive PID: PID exists and is not a zombie (one not reaped yet has finished).
alive() {
  local stat
  { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# still_running: the backup_database.py processes, and the start-up run while it has not become python yet.
still_running() {
  local pids
  pids=$(engine_pids)
  if [[ -n $START_PID ]] && alive "$START_PID" && [[ $'\n'$pids$'\n' != *$'\n'$START_PID$'\n'* ]]; then
    pids+=${pids:+$'\n'}$START_PID
  fi
  printf '%s' "$pids"
}

shutdown() {
  local signal=$1 pids deadline
  [[ -n $STOPPING ]] && return
  STOPPING=1
  deadline=$(($(now_ms) + STOP_TIMEOUT * 1000))
  log "received SIG$signal: stopping cron and any running backup"
  [[ -n $CRON_PID ]] && kill -TERM "$CRON_PID" 2>/dev/null && wait "$CRON_PID" 2>/dev/null
  # Signal twice: a job that cron forked just before it stopped may not have been a python process yet.
  for _ in 1 2; do
    pids=$(engine_pids)
    if [[ -n $pids ]]; then
      log "sending SIG$signal to backup_database.py (pid ${pids//$'\n'/, })"
      # shellcheck disable=SC2086
      kill -"$signal" $pids 2>/dev/null
    fi
    sleep 0.3
  done
  while [[ -n $(still_running) ]] && (($(now_ms) < deadline)); do
    sleep 0.2
  done
  pids=$(still_running)
  if [[ -n $pids ]]; then
    # The deadline holds: what is left is killed (its .partial file stays; the next run removes it).
    err "backup_database.py (pid ${pids//$'\n'/, }) still running after ${STOP_TIMEOUT}s (BACKUP_STOP_TIMEOUT): killing it"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
  fi
  sleep 0.2 # let the log readers copy the last lines the jobs wrote
  ((${#READER_PIDS[@]})) && kill "${READER_PIDS[@]}" 2>/dev/null
  log "stopped"
  [[ -z $pids ]] && exit 0
  exit 1
}

# --- main -----------------------------------------------------------------------------------------------------

# valid_time_zone TZ: a zone file under /usr/share/zoneinfo (a directory such as Asia, or a table such as
# zone.tab, is none).
valid_time_zone() {
  local name=${1#:}
  [[ $name =~ ^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$ ]] || return 1
  [[ -f /usr/share/zoneinfo/$name && $(head -c 4 -- "/usr/share/zoneinfo/$name" 2>/dev/null) == TZif ]]
}

main() {
  if (($# > 0)) && [[ $1 != scheduler ]]; then
    if [[ $1 != */* ]] && command -v -- "$1" >/dev/null 2>&1; then
      exec "$@"
    fi
    exec setpriv --reuid="$JOB_USER" --regid="$JOB_USER" --init-groups --inh-caps=-all \
      env HOME=/app "$PYTHON" "$APP" "$@"
  fi

  if [[ $(id -u) != 0 ]]; then
    err "must start as root (cron needs it; the backups themselves run as $JOB_USER)"
    exit 2
  fi
  cd /app || exit 2

  local -a words
  SCHEDULE=${BACKUP_SCHEDULE:-$DEFAULT_SCHEDULE}
  SCHEDULE=$(printf '%s' "$SCHEDULE" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
  validate_schedule "$SCHEDULE" ||
    die_config "BACKUP_SCHEDULE='$SCHEDULE' is not a cron schedule; allowed: five fields (minute 0-59, hour 0-23," \
      "day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat; each *, a value, a range a-b or a list," \
      "* and ranges with an optional /step, e.g. '0 */6 * * *' or '0 9 * * mon-fri') or @hourly/@daily/@weekly/@monthly/@yearly"
  read -ra words <<<"$SCHEDULE"
  SCHEDULE=${words[*]} # tabs as single spaces
  SESSIONS_SCHEDULE=${BACKUP_SESSIONS_SCHEDULE:-}
  SESSIONS_SCHEDULE=$(printf '%s' "$SESSIONS_SCHEDULE" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
  if [[ -n $SESSIONS_SCHEDULE ]]; then
    validate_schedule "$SESSIONS_SCHEDULE" ||
      die_config "BACKUP_SESSIONS_SCHEDULE='$SESSIONS_SCHEDULE' is not a cron schedule; allowed: empty (no" \
        "snapshots between backups), or five fields as for BACKUP_SCHEDULE, e.g. '*/5 * * * *' (every five minutes)"
    read -ra words <<<"$SESSIONS_SCHEDULE"
    SESSIONS_SCHEDULE=${words[*]}
  fi
  ON_START=$(parse_bool BACKUP_ON_START "${BACKUP_ON_START:-true}") ||
    die_config "BACKUP_ON_START='${BACKUP_ON_START}' is not a boolean; allowed: true/false, yes/no, on/off, 1/0"
  STOP_TIMEOUT=${BACKUP_STOP_TIMEOUT:-25}
  if [[ $STOP_TIMEOUT =~ ^0*([0-9]{1,4})$ ]] && ((10#${BASH_REMATCH[1]} <= 3600)); then
    STOP_TIMEOUT=$((10#${BASH_REMATCH[1]}))
  else
    die_config "BACKUP_STOP_TIMEOUT='$STOP_TIMEOUT' is not a whole number of seconds; allowed: 0 to 3600"
  fi
  if [[ -n ${TZ:-} && $TZ != UTC ]] && ! valid_time_zone "$TZ"; then
    die_config "TZ='$TZ' is not a known time zone; allowed: a zone name under /usr/share/zoneinfo, e.g. UTC or Asia/Kolkata"
  fi

  trap 'shutdown TERM' TERM
  trap 'shutdown INT' INT

  # 1. The engine's own validation, with the container's environment (this is what `docker exec` runs with). It
  #    creates nothing.
  "$PYTHON" "$APP" check-config || {
    rc=$?
    err "check-config failed (exit $rc); fix the setting named above and start the container again"
    exit "$rc"
  }

  # 2. Private run directory (it should be a tmpfs: the job's configuration holds the password) and the job's
  #    configuration file.
  install -d -m 0700 -o "$JOB_USER" -g "$JOB_USER" "$RUN_DIR" || exit 1
  run_fs=$(stat -f -c %T "$RUN_DIR" 2>/dev/null)
  if [[ $run_fs != tmpfs && $run_fs != ramfs ]]; then
    err "warning: $RUN_DIR is not a tmpfs (${run_fs:-unknown filesystem}): the cron job's configuration, password" \
      "included, is written to the container's disk layer; start the container with --tmpfs $RUN_DIR" \
      "(docker-compose.yaml does: tmpfs: [$RUN_DIR])"
  fi
  rm -f "$RUN_DIR"/.*.tmp
  local -a paths
  write_job_env >"$RUN_DIR/.paths.tmp" || { # a setting it refuses: one line, exit 2
    rc=$?
    rm -f "$RUN_DIR/.paths.tmp"
    exit "$rc"
  }
  mapfile -d '' -t paths <"$RUN_DIR/.paths.tmp"
  rm -f "$RUN_DIR/.paths.tmp"
  ((${#paths[@]} == 4)) || {
    err "could not write the configuration for the cron job ($JOB_ENV)"
    exit 1
  }
  backup_dir=${paths[0]} log_file=${paths[1]}

  # 3. BACKUP_DIR (created when missing) and everything in it belong to the job's user, and so does the log file.
  reason=$(backup_dir_refusal "$backup_dir" "${paths[2]}")
  [[ -z $reason ]] ||
    die_config "BACKUP_DIR='$backup_dir' $reason, and the entrypoint gives BACKUP_DIR and everything in it to" \
      "$JOB_USER; allowed: a directory of the backups' own, e.g. /app/backups (the image's volume)"
  reason=$(make_job_dir "$backup_dir") ||
    die_config "BACKUP_DIR='$backup_dir' cannot be created ($reason); allowed: a directory the container can create, or a mounted volume"
  if [[ -d $backup_dir ]]; then
    # A run started as root (an earlier `docker exec`, another image) may have left root-owned files here.
    find "$backup_dir" -xdev \( ! -user "$JOB_USER" -o ! -group "$JOB_USER" \) \
      -exec chown -h "$JOB_USER:$JOB_USER" {} + 2>/dev/null ||
      err "warning: could not give everything in $backup_dir to $JOB_USER; the cron job may not be able to use it"
  fi
  reason=$(make_job_dir "$(dirname -- "$log_file")") ||
    die_config "BACKUP_LOG_FILE='$log_file': its directory cannot be created ($reason); allowed: a file in a directory the container can create"
  make_job_file "$backup_dir/${paths[3]}"
  make_job_file "$log_file"
  as_job_user "$PYTHON" "$APP" check-config --errors-only >/dev/null || { # its warnings were said in step 1
    rc=$?
    err "check-config failed as the cron job would run it (user $JOB_USER, settings from $JOB_ENV; exit $rc)"
    exit "$rc"
  }
  if [[ -n $SESSIONS_SCHEDULE ]]; then
    as_job_user "$PYTHON" "$APP" backup --sessions-snapshot --check >/dev/null || {
      rc=$?
      err "BACKUP_SESSIONS_SCHEDULE is set but a sessions snapshot cannot run (exit $rc); see the line above"
      exit "$rc"
    }
  fi

  # 4. The jobs' output to docker logs.
  rm -f "$OUT_FIFO" "$ERR_FIFO"
  mkfifo -m 0600 "$OUT_FIFO" "$ERR_FIFO" && chown "$JOB_USER:$JOB_USER" "$OUT_FIFO" "$ERR_FIFO" || exit 1
  cat <>"$OUT_FIFO" &
  READER_PIDS+=($!)
  cat <>"$ERR_FIFO" >&2 &
  READER_PIDS+=($!)

  # 5. The cron entry (with its user field), then one backup at start, then cron.
  umask 022
  {
    printf '# Written by backup_scheduler.sh at container start. Time zone: the container'"'"'s TZ (%s).\n' "${TZ:-UTC}"
    printf 'SHELL=/bin/sh\nPATH=%s\nHOME=/app\nLANG=C.UTF-8\nBACKUP_ENV_FILE=%s\n' "$JOB_PATH" "$JOB_ENV"
    printf '%s %s exec %s %s backup >%s 2>%s\n' "$SCHEDULE" "$JOB_USER" "$PYTHON" "$APP" "$OUT_FIFO" "$ERR_FIFO"
    printf '%s %s exec %s %s status --notify >/dev/null 2>%s\n' "$HEALTH_SCHEDULE" "$JOB_USER" "$PYTHON" "$APP" \
      "$ERR_FIFO"
    if [[ -n $SESSIONS_SCHEDULE ]]; then
      printf '%s %s exec %s %s backup --sessions-snapshot >%s 2>%s\n' "$SESSIONS_SCHEDULE" "$JOB_USER" "$PYTHON" \
        "$APP" "$OUT_FIFO" "$ERR_FIFO"
    fi
  } >"$CRON_FILE.tmp"
  chmod 0644 "$CRON_FILE.tmp" && mv -f "$CRON_FILE.tmp" "$CRON_FILE" || exit 1
  log "configuration ok; schedule '$SCHEDULE' (time zone ${TZ:-UTC}), backups run as $JOB_USER"
  [[ -n $SESSIONS_SCHEDULE ]] && log "sessions.db snapshots on schedule '$SESSIONS_SCHEDULE' (BACKUP_SESSIONS_SCHEDULE)"

  if [[ $ON_START == true ]]; then
    log "BACKUP_ON_START=true: running a backup now"
    as_job_user "$PYTHON" "$APP" backup >"$OUT_FIFO" 2>"$ERR_FIFO" &
    START_PID=$!
    wait "$START_PID"
    rc=$?
    START_PID=
    log "start-up backup finished with exit code $rc"
  fi

  cron -f &
  CRON_PID=$!
  log "cron started (pid $CRON_PID)"
  while :; do
    wait "$CRON_PID"
    rc=$?
    if ! kill -0 "$CRON_PID" 2>/dev/null; then
      err "cron exited unexpectedly (exit $rc)"
      exit 1
    fi
  done
}

# Sourced (by the tests, for validate_schedule) it only defines functions.
if ! (return 0 2>/dev/null); then
  main "$@"
fi
