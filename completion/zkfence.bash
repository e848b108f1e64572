# bash completion for zkfence(1): subcommands, their options, and after
# `lock LOCKPATH --` (or rwlock, semaphore, elect) the command to run (then
# its own arguments, as files).
# Installed as share/bash-completion/completions/zkfence, where
# bash-completion loads it on first use; `source` it to try it by hand.
# Plain bash (compgen), no helper from the bash-completion package.

_zkfence()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "lock rwlock semaphore elect holders --help --version" -- "$cur"))
        return 0
    fi
    local sub=${COMP_WORDS[1]} i
    # After `--`, lock (rwlock, semaphore, elect) runs a command: complete
    # it, then its arguments.
    if [[ $sub == lock || $sub == rwlock || $sub == semaphore || $sub == elect ]]; then
        for ((i = 2; i < COMP_CWORD; i++)); do
            if [ "${COMP_WORDS[i]}" = -- ]; then
                if ((COMP_CWORD == i + 1)); then
                    COMPREPLY=($(compgen -c -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return 0
            fi
        done
    fi
    case $prev in
    -z)
        # The connection string: the one in the environment, if any.
        [ -n "${ZKFENCE_ZOOKEEPER:-}" ] && COMPREPLY=($(compgen -W "$ZKFENCE_ZOOKEEPER" -- "$cur"))
        return 0
        ;;
    -w | --wait | -s | -g | -n | --id)
        return 0 # a number (or elect's free-form id): nothing to offer
        ;;
    --fence-advance)
        COMPREPLY=($(compgen -W "http:// https://" -- "$cur"))
        return 0
        ;;
    esac
    local opts
    case $sub in
    lock) opts="-z -w --wait -s -g --fence-advance --help" ;;
    rwlock) opts="--read --write -z -w --wait -s -g --fence-advance --help" ;;
    semaphore) opts="-n -z -w --wait -s -g --help" ;;
    elect) opts="--id -z -w --wait -s -g --help" ;;
    esac
    case $sub in
    lock | rwlock | semaphore | elect)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        elif [[ $cur == "" && $prev == /* ]]; then
            COMPREPLY=(--) # a path given: next comes `-- COMMAND`
        fi
        ;;
    holders)
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "-z -w --wait --json --help" -- "$cur"))
        ;;
    esac
    return 0
}
complete -F _zkfence zkfence
