# bash completion for zkfence(1): subcommands, their options, and after
# `lock LOCKPATH --` the command to run (then its own arguments, as files).
# Installed as share/bash-completion/completions/zkfence, where
# bash-completion loads it on first use; `source` it to try it by hand.
# Plain bash (compgen), no helper from the bash-completion package.

_zkfence()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "lock holders --help --version" -- "$cur"))
        return 0
    fi
    local sub=${COMP_WORDS[1]} i
    # After `--`, lock runs a command: complete it, then its arguments.
    if [ "$sub" = lock ]; then
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
    -w | --wait | -s | -g)
        return 0 # a number: nothing to offer
        ;;
    --fence-advance)
        COMPREPLY=($(compgen -W "http:// https://" -- "$cur"))
        return 0
        ;;
    esac
    case $sub in
    lock)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-z -w --wait -s -g --fence-advance --help" -- "$cur"))
        elif [[ $cur == "" && $prev == /* ]]; then
            COMPREPLY=(--) # a lock path given: next comes `-- COMMAND`
        fi
        ;;
    holders)
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "-z -w --wait --json --help" -- "$cur"))
        ;;
    esac
    return 0
}
complete -F _zkfence zkfence
