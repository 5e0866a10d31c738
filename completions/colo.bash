# bash completion for colo(8). The options per command mirror `colo COMMAND --help`; the test
# suite (tests/install/check-docs-options.sh) fails when they drift apart.
_colo() {
        local cur prev words cword
        _init_completion || return

        local commands="agent run status top move sim webhook extender"
        if [[ $cword -eq 1 ]]; then
                COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
                return
        fi

        local verb=${words[1]} opts=""
        case $verb in
        agent) opts="--config --subtree --state-dir --dry-run --help" ;;
        run) opts="--class --tier --name --config --subtree --state-dir --help" ;;
        status) opts="--json --config --subtree --state-dir --help" ;;
        top) opts="--once --interval --sort --color --config --state-dir --help" ;;
        move) opts="--class --tier --config --subtree --state-dir --help" ;;
        sim) opts="--format --predictors --node-size --signal --machine-cores --warmup --horizon --step --max-gap
                   --colo-quantile --limits --workload-label --limit-label --node-label --job-cpu --job-hours
                   --squeeze-tolerance --reserved-cpu --cpu-safety-margin
                   --json --csv --plot --plot-node --help" ;;
        webhook) opts="--listen --tls-cert --tls-key --insecure-http --max-body --max-in-flight
                       --max-connections --max-connections-per-ip --timeout --threads --offline-priority
                       --preemption-policy --replaceable-priority-class --help" ;;
        extender) opts="--listen --tls-cert --tls-key --max-body --max-in-flight --max-connections
                        --max-connections-per-ip --timeout --threads --cpu-threshold
                        --memory-threshold --stale-after --node-source --node-refresh --help" ;;
        *) return ;;
        esac

        # After "--", colo run runs a command: complete that command and its arguments.
        if [[ $verb == run ]]; then
                local i
                for ((i = 2; i < cword; i++)); do
                        if [[ ${words[i]} == -- ]]; then
                                _command_offset $((i + 1))
                                return
                        fi
                done
        fi

        case $prev in
        --class | -c) COMPREPLY=($(compgen -W "online offline" -- "$cur")); return ;;
        --tier | -t)
                local cls="" j
                for ((j = 2; j < cword; j++)); do
                        [[ ${words[j]} == --class || ${words[j]} == -c ]] && cls=${words[j + 1]}
                done
                case $cls in
                online) COMPREPLY=($(compgen -W "critical normal" -- "$cur")) ;;
                offline) COMPREPLY=($(compgen -W "batch best-effort" -- "$cur")) ;;
                *) COMPREPLY=($(compgen -W "critical normal batch best-effort" -- "$cur")) ;;
                esac
                return ;;
        --format) COMPREPLY=($(compgen -W "azure alibaba auto" -- "$cur")); return ;;
        --sort | -s) COMPREPLY=($(compgen -W "cpu memory name" -- "$cur")); return ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        --signal) COMPREPLY=($(compgen -W "max avg mem" -- "$cur")); return ;;
        --preemption-policy) COMPREPLY=($(compgen -W "Never PreemptLowerPriority keep" -- "$cur")); return ;;
        --config | --tls-cert | --tls-key | --plot) _filedir; return ;;
        --state-dir | --csv) _filedir -d; return ;;
        --subtree | --name | -n | --listen | -l | --max-body | --max-in-flight | --max-connections | \
        --max-connections-per-ip | --timeout | --threads | --predictors | \
        --node-size | --machine-cores | --warmup | --horizon | --step | --max-gap | --plot-node | --offline-priority | \
        --replaceable-priority-class | --cpu-threshold | --memory-threshold | --stale-after | \
        --node-source | --node-refresh | --interval | -d) return ;;
        esac

        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        elif [[ $verb == sim ]]; then
                _filedir
        fi
}
complete -F _colo colo
